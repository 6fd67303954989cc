package sim

import "github.com/scopedns/scopedns/internal/cloudflare/wire"

// Cloudflare v4 error codes the simulator answers with: wire's, where each
// is documented.
const (
	CodeInvalidAPIToken   = wire.CodeInvalidAPIToken
	CodeDNSValidation     = wire.CodeDNSValidation
	CodeInvalidHeaders    = wire.CodeInvalidHeaders
	CodeInvalidAuthFormat = wire.CodeInvalidAuthFormat
	CodeMalformedJSON     = wire.CodeMalformedJSON
	CodeNoRoute           = wire.CodeNoRoute
	CodeMethodNotAllowed  = wire.CodeMethodNotAllowed
	CodeCouldNotRoute     = wire.CodeCouldNotRoute
	CodeInvalidField      = wire.CodeInvalidField
	CodeNotProxiable      = wire.CodeNotProxiable
	CodeMissingAuth       = wire.CodeMissingAuth
	CodeUnknownAuthKey    = wire.CodeUnknownAuthKey
	CodeUnauthorized      = wire.CodeUnauthorized
	CodeRateLimited       = wire.CodeRateLimited
	CodeAuthError         = wire.CodeAuthError
	CodeInternal          = wire.CodeInternal
	CodeTokenInvalid      = wire.CodeTokenInvalid
	CodeTokenNotFound     = wire.CodeTokenNotFound
	CodeTokenQuota        = wire.CodeTokenQuota
	CodeRecordNotFound    = wire.CodeRecordNotFound
	CodeHostConflict      = wire.CodeHostConflict
	CodeCNAMEConflict     = wire.CodeCNAMEConflict
	CodeRecordExists      = wire.CodeRecordExists
	CodeBatchTooLarge     = wire.CodeBatchTooLarge
)

// The envelope's parts, as wire has them.
type (
	APIError   = wire.APIError
	Message    = wire.Message
	ResultInfo = wire.ResultInfo
)
