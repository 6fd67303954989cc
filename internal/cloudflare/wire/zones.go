package wire

import "time"

// ZoneAccountJSON is the zone object's account.
type ZoneAccountJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ZoneJSON is Cloudflare's zone object.
type ZoneJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Status              string          `json:"status"`
	Paused              bool            `json:"paused"`
	Type                string          `json:"type"`
	DevelopmentMode     int             `json:"development_mode"`
	NameServers         []string        `json:"name_servers"`
	OriginalNameServers []string        `json:"original_name_servers"`
	OriginalRegistrar   *string         `json:"original_registrar"`
	OriginalDnshost     *string         `json:"original_dnshost"`
	CreatedOn           time.Time       `json:"created_on"`
	ModifiedOn          time.Time       `json:"modified_on"`
	ActivatedOn         time.Time       `json:"activated_on"`
	Meta                map[string]any  `json:"meta"`
	Owner               map[string]any  `json:"owner"`
	Account             ZoneAccountJSON `json:"account"`
	Tenant              map[string]any  `json:"tenant"`
	TenantUnit          map[string]any  `json:"tenant_unit"`
	Permissions         []string        `json:"permissions"`
	Plan                map[string]any  `json:"plan"`
}

// ZoneInfo is what a zone object is made of.
type ZoneInfo struct {
	ID, Name               string
	Created, Modified      time.Time
	NameServers            []string
	AccountID, AccountName string
	// Permissions are the token's on the zone ("#dns_records:edit", …).
	Permissions []string
}

// NewZoneJSON is a zone as Cloudflare answers it, on the free plan.
func NewZoneJSON(z ZoneInfo) ZoneJSON {
	modified := z.Modified
	if modified.IsZero() {
		modified = z.Created
	}
	return ZoneJSON{
		ID: z.ID, Name: z.Name, Status: "active", Type: "full",
		NameServers: append([]string{}, z.NameServers...),
		CreatedOn:   z.Created, ModifiedOn: modified, ActivatedOn: z.Created,
		Meta:        map[string]any{"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": false, "cdn_only": false, "dns_only": false, "foundation_dns": false},
		Owner:       map[string]any{"id": nil, "type": "user", "email": nil},
		Account:     ZoneAccountJSON{ID: z.AccountID, Name: z.AccountName},
		Tenant:      map[string]any{"id": nil, "name": nil},
		TenantUnit:  map[string]any{"id": nil},
		Permissions: z.Permissions,
		Plan: map[string]any{
			"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0, "currency": "USD",
			"frequency": "", "is_subscribed": false, "can_subscribe": false, "legacy_id": "free",
			"legacy_discount": false, "externally_managed": false,
		},
	}
}
