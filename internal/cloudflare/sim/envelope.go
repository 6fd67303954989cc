package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Cloudflare v4 error codes the simulator answers with. Codes marked
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

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []APIError  `json:"errors"`
	Messages   []Message   `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *ResultInfo `json:"result_info,omitempty"`
}

// failure is an error answer: an HTTP status, the envelope errors and any
// extra headers.
type failure struct {
	status int
	errs   []APIError
	header http.Header
}

func (f *failure) Error() string {
	if len(f.errs) == 0 {
		return fmt.Sprintf("status %d", f.status)
	}
	return fmt.Sprintf("status %d: %d %s", f.status, f.errs[0].Code, f.errs[0].Message)
}

func fail(status, code int, msg string) *failure {
	return &failure{status: status, errs: []APIError{{Code: code, Message: msg}}}
}

func failf(status, code int, format string, args ...any) *failure {
	return fail(status, code, fmt.Sprintf(format, args...))
}

// dnsInvalid is the 400 "DNS Validation Error" with one chained reason.
func dnsInvalid(code int, format string, args ...any) *failure {
	return &failure{status: http.StatusBadRequest, errs: []APIError{{
		Code:       CodeDNSValidation,
		Message:    "DNS Validation Error",
		ErrorChain: []APIError{{Code: code, Message: fmt.Sprintf(format, args...)}},
	}}}
}

func errAuthentication(status int) *failure {
	return fail(status, CodeAuthError, "Authentication error")
}

func errUnauthorized() *failure {
	return fail(http.StatusForbidden, CodeUnauthorized, "Unauthorized to access requested resource")
}

func errCouldNotRoute(path string) *failure {
	return &failure{status: http.StatusNotFound, errs: []APIError{
		{Code: CodeCouldNotRoute, Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", path)},
		{Code: CodeNoRoute, Message: "No route for that URI"},
	}}
}

func errRecordNotFound() *failure {
	return fail(http.StatusNotFound, CodeRecordNotFound, "Record does not exist.")
}

func writeEnvelope(w http.ResponseWriter, status int, env envelope) {
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

func writeFailure(w http.ResponseWriter, f *failure) {
	for k, vs := range f.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeEnvelope(w, f.status, envelope{Success: false, Errors: f.errs})
}
