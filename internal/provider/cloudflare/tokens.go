package cloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/packages/pagination"
	"github.com/cloudflare/cloudflare-go/v7/shared"

	"github.com/scopedns/scopedns/internal/provider"
)

// zoneResourcePrefix names a zone in a token policy's resources.
const zoneResourcePrefix = "com.cloudflare.api.account.zone."

// permissionGroups returns the IDs of the configured permission groups, looked
// up by name once and cached.
func (p *Provider) permissionGroups(ctx context.Context) ([]string, error) {
	p.groupsMu.Lock()
	defer p.groupsMu.Unlock()
	if p.groupIDs != nil {
		return p.groupIDs, nil
	}
	var res *pagination.SinglePage[accounts.TokenPermissionGroupListResponse]
	err := p.call(ctx, provider.OpPermissionGroupsList, func(ctx context.Context) (err error) {
		res, err = p.api.ListPermissionGroups(ctx, accounts.TokenPermissionGroupListParams{AccountID: cf.F(p.opts.AccountID)})
		return err
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(p.opts.PermissionGroups))
	for _, name := range p.opts.PermissionGroups {
		i := slices.IndexFunc(res.Result, func(g accounts.TokenPermissionGroupListResponse) bool { return strings.EqualFold(g.Name, name) })
		if i < 0 {
			return nil, &provider.Error{Op: provider.OpPermissionGroupsList, Kind: provider.KindInvalid,
				Message: fmt.Sprintf("the account has no permission group named %q", name)}
		}
		ids = append(ids, res.Result[i].ID)
	}
	p.groupIDs = ids
	return ids, nil
}

func policies(groupIDs, zoneIDs []string) []shared.TokenPolicyParam {
	groups := make([]shared.TokenPolicyPermissionGroupParam, 0, len(groupIDs))
	for _, id := range groupIDs {
		groups = append(groups, shared.TokenPolicyPermissionGroupParam{ID: cf.F(id)})
	}
	resources := shared.TokenPolicyResourcesIAMResourcesTypeObjectStringParam{}
	for _, z := range zoneIDs {
		resources[zoneResourcePrefix+z] = "*"
	}
	return []shared.TokenPolicyParam{{
		Effect:           cf.F(shared.TokenPolicyEffectAllow),
		PermissionGroups: cf.F(groups),
		Resources:        cf.F[shared.TokenPolicyResourcesUnionParam](resources),
	}}
}

// cfTime is how Cloudflare wants times: UTC, whole seconds.
func cfTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// MintToken implements provider.Provider: an account-owned token with one
// policy granting the configured permission groups on exactly spec.ZoneIDs.
func (p *Provider) MintToken(ctx context.Context, spec provider.TokenSpec) (provider.MintedToken, error) {
	if err := spec.Validate(); err != nil {
		return provider.MintedToken{}, err
	}
	groups, err := p.permissionGroups(ctx)
	if err != nil {
		return provider.MintedToken{}, err
	}
	params := accounts.TokenNewParams{
		AccountID: cf.F(p.opts.AccountID),
		Name:      cf.F(spec.Name),
		Policies:  cf.F(policies(groups, spec.ZoneIDs)),
	}
	if !spec.NotBefore.IsZero() {
		params.NotBefore = cf.F(cfTime(spec.NotBefore))
	}
	if !spec.ExpiresOn.IsZero() {
		params.ExpiresOn = cf.F(cfTime(spec.ExpiresOn))
	}
	var res *accounts.TokenNewResponse
	err = p.call(ctx, provider.OpTokensCreate, func(ctx context.Context) (err error) {
		res, err = p.api.NewToken(ctx, params, conditionOption(spec.AllowedCIDRs, nil)...)
		return err
	})
	if err != nil {
		return provider.MintedToken{}, err
	}
	value := provider.Secret(res.Value)
	if value.IsZero() {
		return provider.MintedToken{}, &provider.Error{Op: provider.OpTokensCreate, Kind: provider.KindUnknown,
			Message: "Cloudflare created token " + res.ID + " but returned no value; revoke it"}
	}
	t := fromToken(shared.Token{
		ID: res.ID, Name: res.Name, Status: shared.TokenStatus(res.Status), Policies: res.Policies,
		IssuedOn: res.IssuedOn, ModifiedOn: res.ModifiedOn, NotBefore: res.NotBefore, ExpiresOn: res.ExpiresOn,
	})
	t.AllowedCIDRs, _ = requestIP(res.Condition.JSON.RawJSON(), res.Condition.RequestIP.In, res.Condition.RequestIP.NotIn)
	return provider.MintedToken{Token: t, Value: value}, nil
}

// UpdateTokenZones implements provider.Provider: it reads the token and writes
// it back whole (Cloudflare's update is a PUT) with the policy rebuilt for the
// new zones; name, status, condition and validity window are kept, and the
// value does not change.
func (p *Provider) UpdateTokenZones(ctx context.Context, tokenID string, zoneIDs []string) (provider.Token, error) {
	if len(zoneIDs) == 0 || slices.Contains(zoneIDs, "") {
		return provider.Token{}, &provider.Error{Op: provider.OpTokensUpdate, Kind: provider.KindInvalid, Message: "a token needs at least one zone; revoke it instead"}
	}
	groups, err := p.permissionGroups(ctx)
	if err != nil {
		return provider.Token{}, err
	}
	var cur *shared.Token
	err = p.call(ctx, provider.OpTokensGet, func(ctx context.Context) (err error) {
		cur, err = p.api.GetToken(ctx, tokenID, accounts.TokenGetParams{AccountID: cf.F(p.opts.AccountID)})
		return err
	})
	if err != nil {
		return provider.Token{}, err
	}
	tok := shared.TokenParam{
		Name:     cf.F(cur.Name),
		Policies: cf.F(policies(groups, zoneIDs)),
	}
	if cur.Status == shared.TokenStatusActive || cur.Status == shared.TokenStatusDisabled {
		tok.Status = cf.F(cur.Status)
	}
	in, notIn := requestIP(cur.Condition.JSON.RawJSON(), cur.Condition.RequestIP.In, cur.Condition.RequestIP.NotIn)
	if !cur.NotBefore.IsZero() {
		tok.NotBefore = cf.F(cfTime(cur.NotBefore))
	}
	if !cur.ExpiresOn.IsZero() {
		tok.ExpiresOn = cf.F(cfTime(cur.ExpiresOn))
	}
	var res *shared.Token
	err = p.call(ctx, provider.OpTokensUpdate, func(ctx context.Context) (err error) {
		res, err = p.api.UpdateToken(ctx, tokenID, accounts.TokenUpdateParams{AccountID: cf.F(p.opts.AccountID), Token: tok},
			conditionOption(in, notIn)...)
		return err
	})
	if err != nil {
		return provider.Token{}, err
	}
	return fromToken(*res), nil
}

// Token implements provider.Provider.
func (p *Provider) Token(ctx context.Context, tokenID string) (provider.Token, error) {
	if tokenID == "" {
		return provider.Token{}, &provider.Error{Op: provider.OpTokensGet, Kind: provider.KindInvalid, Message: "no token ID"}
	}
	var cur *shared.Token
	err := p.call(ctx, provider.OpTokensGet, func(ctx context.Context) (err error) {
		cur, err = p.api.GetToken(ctx, tokenID, accounts.TokenGetParams{AccountID: cf.F(p.opts.AccountID)})
		return err
	})
	if err != nil {
		return provider.Token{}, err
	}
	return fromToken(*cur), nil
}

// RevokeToken implements provider.Provider.
func (p *Provider) RevokeToken(ctx context.Context, tokenID string) error {
	if tokenID == "" {
		return &provider.Error{Op: provider.OpTokensDelete, Kind: provider.KindInvalid, Message: "no token ID"}
	}
	return p.call(ctx, provider.OpTokensDelete, func(ctx context.Context) error {
		_, err := p.api.DeleteToken(ctx, tokenID, accounts.TokenDeleteParams{AccountID: cf.F(p.opts.AccountID)})
		return err
	})
}

// Tokens implements provider.Provider. Expired tokens are included: they still
// count against the quota until they are deleted.
func (p *Provider) Tokens(ctx context.Context, namePrefix string) ([]provider.Token, error) {
	params := accounts.TokenListParams{
		AccountID:      cf.F(p.opts.AccountID),
		IncludeExpired: cf.F(true),
		PerPage:        cf.F(float64(tokenPageSize)),
	}
	var out []provider.Token
	err := pages(ctx, p, provider.OpTokensList, func(ctx context.Context, page int) ([]shared.Token, bool, error) {
		params.Page = cf.F(float64(page))
		return v4(p.api.ListTokens(ctx, params))(page)
	}, func(t shared.Token) {
		if strings.HasPrefix(t.Name, namePrefix) {
			out = append(out, fromToken(t))
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// The IP condition is written and read here rather than through the SDK's
// types: Cloudflare's API schema names it "request.ip", cloudflare-go v7 names
// it "request_ip", and a condition the API does not recognise would leave the
// token usable from anywhere (and a PUT would drop an existing condition).
// Tokens are sent "request.ip"; either spelling is read.

// conditionOption sets the token body's condition to the IP lists, if any.
func conditionOption(in, notIn []string) []option.RequestOption {
	if len(in)+len(notIn) == 0 {
		return nil
	}
	ip := map[string][]string{}
	if len(in) > 0 {
		ip["in"] = in
	}
	if len(notIn) > 0 {
		ip["not_in"] = notIn
	}
	return []option.RequestOption{option.WithJSONSet("condition", map[string]any{"request.ip": ip})}
}

// requestIP reads the IP lists from a token's raw condition JSON, falling back
// to what the SDK decoded.
func requestIP(raw string, in, notIn []string) ([]string, []string) {
	var c map[string]struct {
		In    []string `json:"in"`
		NotIn []string `json:"not_in"`
	}
	if raw != "" && json.Unmarshal([]byte(raw), &c) == nil {
		for _, key := range []string{"request.ip", "request_ip"} {
			if ip, ok := c[key]; ok {
				return slices.Clone(ip.In), slices.Clone(ip.NotIn)
			}
		}
	}
	return slices.Clone(in), slices.Clone(notIn)
}

func fromToken(t shared.Token) provider.Token {
	out := provider.Token{
		ID:         t.ID,
		Name:       t.Name,
		Status:     provider.TokenStatus(t.Status),
		IssuedOn:   t.IssuedOn,
		ModifiedOn: t.ModifiedOn,
		NotBefore:  t.NotBefore,
		ExpiresOn:  t.ExpiresOn,
	}
	out.AllowedCIDRs, _ = requestIP(t.Condition.JSON.RawJSON(), t.Condition.RequestIP.In, t.Condition.RequestIP.NotIn)
	for _, pol := range t.Policies {
		if pol.Effect != shared.TokenPolicyEffectAllow {
			continue
		}
		var keys []string
		switch r := pol.Resources.(type) {
		case shared.TokenPolicyResourcesIAMResourcesTypeObjectString:
			for k := range r {
				keys = append(keys, k)
			}
		case shared.TokenPolicyResourcesIAMResourcesTypeObjectNested:
			for _, inner := range r {
				for k := range inner {
					keys = append(keys, k)
				}
			}
		}
		for _, k := range keys {
			if id, ok := strings.CutPrefix(k, zoneResourcePrefix); ok && id != "*" && !slices.Contains(out.ZoneIDs, id) {
				out.ZoneIDs = append(out.ZoneIDs, id)
			}
		}
	}
	slices.Sort(out.ZoneIDs)
	return out
}
