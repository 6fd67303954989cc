// Package kubectlplugin is `kubectl scopedns`: can-i, grants, audit and
// doctor, for the teams that claim names and the admins that grant them.
//
// It decides nothing of its own. can-i asks internal/policy's verdict
// (policy.Decide), the one the admission webhook and the claim controller
// call, on a probe claim built from the question; grants lists the grant
// engine's rules expanded for a namespace; audit and doctor read what the
// operator wrote in DNSCredential and DNSScope status and never read a
// Secret. Every command is a pure function from what it read to a result
// (canI, grantsOf, auditOf, the doctor's checks), and the result is printed
// in kubectl's conventions: -o table (the default), yaml or json.
package kubectlplugin
