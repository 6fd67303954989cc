// Package wire is Cloudflare's v4 API as it travels: the response envelope,
// error codes, the record, zone and batch objects, record validation, list
// filters and pagination. The simulator (internal/cloudflare/sim) and the
// Cloudflare-compatible front door (internal/cfapi) both speak it, so what
// the simulator learned of Cloudflare's shapes is the front door's too, and
// the two cannot drift apart.
package wire

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Cloudflare v4 error codes the simulator and the front door answer with. Codes marked
// "observed" are the ones Cloudflare is seen returning for the same
// situation; the others are the simulator's choice where Cloudflare's code
// could not be confirmed, and callers should match on the HTTP status (and
// these constants) rather than on the numbers.
const (
	// CodeInvalidAPIToken (observed): 401 from the verify endpoints for an
	// unknown, disabled, expired or not-yet-valid token, and from
	// /user/tokens/verify for an account-owned token.
	CodeInvalidAPIToken = 1000
	// CodeDNSValidation (observed): 400 "DNS Validation Error"; the reason is
	// in error_chain.
	CodeDNSValidation = 1004
	// CodeInvalidHeaders and CodeInvalidAuthFormat (observed): 400 for an
	// Authorization header that is not "Bearer <token>".
	CodeInvalidHeaders    = 6003
	CodeInvalidAuthFormat = 6111
	// CodeMalformedJSON (observed): 400 for a body that is not valid JSON.
	CodeMalformedJSON = 6007
	// CodeNoRoute and CodeCouldNotRoute (observed): unknown path, unknown or
	// malformed zone identifier.
	CodeNoRoute          = 7000
	CodeMethodNotAllowed = 7001
	CodeCouldNotRoute    = 7003
	// CodeInvalidField (observed as a chain code for invalid IP / invalid
	// 'proxied'): every field-level DNS validation failure in error_chain.
	CodeInvalidField = 9003
	// CodeNotProxiable: chain code for proxied=true on a type that cannot be
	// proxied.
	CodeNotProxiable = 9004
	// CodeMissingAuth: 400, no credentials at all.
	CodeMissingAuth = 9106
	// CodeUnknownAuthKey: 403, X-Auth-Key/X-Auth-Email (global API key) are
	// not supported by the simulator.
	CodeUnknownAuthKey = 9103
	// CodeUnauthorized (observed): 403 "Unauthorized to access requested
	// resource" for zone and token endpoints the token may not use, and
	// "Cannot use the access token from location: <ip>" for the IP condition.
	CodeUnauthorized = 9109
	// CodeRateLimited (observed): 429 "Please wait and consider throttling
	// your request speed".
	CodeRateLimited = 971
	// CodeAuthError (observed): "Authentication error", 401 for an unknown,
	// disabled, expired or not-yet-valid token, 403 for DNS record endpoints
	// the token may not use.
	CodeAuthError = 10000
	// CodeInternal: the 5xx answers injected by Faults.
	CodeInternal = 10001
	// CodeTokenInvalid: 400, the token create/update body is invalid.
	CodeTokenInvalid = 1001
	// CodeTokenNotFound: 404, no such token in the account.
	CodeTokenNotFound = 1003
	// CodeTokenQuota: 400, the account already holds TokenQuota tokens.
	CodeTokenQuota = 1005
	// CodeRecordNotFound (observed): 404 "Record does not exist.".
	CodeRecordNotFound = 81044
	// CodeHostConflict (observed): 400, a CNAME cannot share its name.
	CodeHostConflict = 81053
	// CodeCNAMEConflict: 400, the name already holds a CNAME.
	CodeCNAMEConflict = 81054
	// CodeRecordExists (observed): 400 "Record already exists." for an
	// identical record.
	CodeRecordExists = 81057
	// CodeBatchTooLarge: chain code under CodeDNSValidation when a batch has
	// more changes than the limit.
	CodeBatchTooLarge = 81059
)

// APIError is one entry of the envelope's errors array.
type APIError struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	ErrorChain []APIError `json:"error_chain,omitempty"`
}

// Message is one entry of the envelope's messages array.
type Message struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	Type    *string `json:"type"`
}

// ResultInfo is the envelope's pagination block.
type ResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// Envelope is every answer's body.
type Envelope struct {
	Success    bool        `json:"success"`
	Errors     []APIError  `json:"errors"`
	Messages   []Message   `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *ResultInfo `json:"result_info,omitempty"`
}

// Failure is an error answer: an HTTP status, the envelope errors and any
// extra headers.
type Failure struct {
	Status int
	Errs   []APIError
	Header http.Header
}

func (f *Failure) Error() string {
	if len(f.Errs) == 0 {
		return fmt.Sprintf("status %d", f.Status)
	}
	return fmt.Sprintf("status %d: %d %s", f.Status, f.Errs[0].Code, f.Errs[0].Message)
}

// Fail is an answer with one error.
func Fail(status, code int, msg string) *Failure {
	return &Failure{Status: status, Errs: []APIError{{Code: code, Message: msg}}}
}

// Failf is Fail with a formatted message.
func Failf(status, code int, format string, args ...any) *Failure {
	return Fail(status, code, fmt.Sprintf(format, args...))
}

// DNSInvalid is the 400 "DNS Validation Error" with one chained reason.
func DNSInvalid(code int, format string, args ...any) *Failure {
	return &Failure{Status: http.StatusBadRequest, Errs: []APIError{{
		Code:       CodeDNSValidation,
		Message:    "DNS Validation Error",
		ErrorChain: []APIError{{Code: code, Message: fmt.Sprintf(format, args...)}},
	}}}
}

// ErrAuthentication is "Authentication error": 401 for an unusable token,
// 403 for DNS record endpoints the token may not use.
func ErrAuthentication(status int) *Failure {
	return Fail(status, CodeAuthError, "Authentication error")
}

// ErrUnauthorized is the 403 of zone and token endpoints the token may not
// use.
func ErrUnauthorized() *Failure {
	return Fail(http.StatusForbidden, CodeUnauthorized, "Unauthorized to access requested resource")
}

// ErrCouldNotRoute is the 404 of an unknown zone (or other object) ID.
func ErrCouldNotRoute(path string) *Failure {
	return &Failure{Status: http.StatusNotFound, Errs: []APIError{
		{Code: CodeCouldNotRoute, Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", path)},
		{Code: CodeNoRoute, Message: "No route for that URI"},
	}}
}

// ErrRecordNotFound is the 404 of an unknown record ID.
func ErrRecordNotFound() *Failure {
	return Fail(http.StatusNotFound, CodeRecordNotFound, "Record does not exist.")
}

// ErrNoRoute is the 404 of a path the API does not have.
func ErrNoRoute() *Failure { return Fail(http.StatusNotFound, CodeNoRoute, "No route for that URI") }

// ErrMethodNotAllowed is the 405 of a path that exists for other methods.
func ErrMethodNotAllowed(method string) *Failure {
	return Failf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method %s not available for that URI.", method)
}

// ErrMalformedJSON is the 400 of a body that is not JSON.
func ErrMalformedJSON() *Failure {
	return Fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
}

// WriteEnvelope writes an answer.
func WriteEnvelope(w http.ResponseWriter, status int, env Envelope) {
	if env.Errors == nil {
		env.Errors = []APIError{}
	}
	if env.Messages == nil {
		env.Messages = []Message{}
	}
	b, err := json.Marshal(env)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"success":false,"errors":[{"code":10001,"message":"Internal server error"}],"messages":[],"result":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteFailure writes an error answer.
func WriteFailure(w http.ResponseWriter, f *Failure) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	WriteEnvelope(w, f.Status, Envelope{Success: false, Errors: f.Errs})
}
