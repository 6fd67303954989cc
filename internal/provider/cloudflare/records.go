package cloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// Records implements provider.Provider. The filter goes to Cloudflare
// (name.exact, type, comment.exact or comment.startswith) and is applied again
// to what comes back.
func (p *Provider) Records(ctx context.Context, zoneID string, f provider.RecordFilter) ([]provider.Record, error) {
	params := dns.RecordListParams{
		ZoneID:  cf.F(zoneID),
		PerPage: cf.F(float64(p.opts.PageSize)),
	}
	if f.Name != "" {
		params.Name = cf.F(dns.RecordListParamsName{Exact: cf.F(provider.NormalizeName(f.Name))})
	}
	if f.Type != "" {
		params.Type = cf.F(dns.RecordListParamsType(strings.ToUpper(f.Type)))
	}
	switch {
	case f.Owner != "":
		params.Comment = cf.F(dns.RecordListParamsComment{Exact: cf.F(f.Owner)})
	case f.OwnerPrefix != "":
		params.Comment = cf.F(dns.RecordListParamsComment{Startswith: cf.F(f.OwnerPrefix)})
	}
	var out []provider.Record
	err := pages(ctx, p, provider.OpRecordsList, func(ctx context.Context, page int) ([]recordJSON, bool, error) {
		params.Page = cf.F(float64(page))
		res, err := p.api.ListRecords(ctx, params)
		if err != nil {
			return nil, false, err
		}
		total := -1
		if res.ResultInfo.TotalPages != nil {
			total = *res.ResultInfo.TotalPages
		}
		return res.Result, hasNextPage(len(res.Result), res.ResultInfo.PerPage, total, page), nil
	}, func(r recordJSON) {
		if rec := r.record(); f.Matches(rec) {
			out = append(out, rec)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyChanges implements provider.Provider with Cloudflare's batch endpoint,
// in batches of at most BatchLimit changes: deletes first, then updates, then
// creates, which is also the order Cloudflare runs a batch in. Each batch is one
// transaction; when a later batch fails, the result reports the earlier ones.
func (p *Provider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	var res provider.ApplyResult
	if err := c.Validate(); err != nil {
		return res, err
	}
	batches := splitChanges(c, p.opts.BatchLimit)
	for i, b := range batches {
		params := dns.RecordBatchParams{ZoneID: cf.F(zoneID)}
		if len(b.Delete) > 0 {
			var ds []dns.RecordBatchParamsDelete
			for _, r := range b.Delete {
				ds = append(ds, dns.RecordBatchParamsDelete{ID: cf.F(r.ID)})
			}
			params.Deletes = cf.F(ds)
		}
		if len(b.UpdateNew) > 0 {
			var puts []dns.BatchPutUnionParam
			for j, r := range b.UpdateNew {
				puts = append(puts, putParam(b.UpdateOld[j].ID, r))
			}
			params.Puts = cf.F(puts)
		}
		if len(b.Create) > 0 {
			var posts []dns.RecordBatchParamsPostUnion
			for _, r := range b.Create {
				posts = append(posts, postParam(r))
			}
			params.Posts = cf.F(posts)
		}
		var out *batchResult
		err := p.call(ctx, provider.OpRecordsBatch, func(ctx context.Context) (err error) {
			out, err = p.api.BatchRecords(ctx, params)
			return err
		})
		if err != nil {
			return res, withBatch(err, i, len(batches))
		}
		for _, r := range out.Posts {
			res.Created = append(res.Created, r.record())
		}
		for _, r := range out.Puts {
			res.Updated = append(res.Updated, r.record())
		}
		for _, r := range b.Delete {
			res.Deleted = append(res.Deleted, r.ID)
		}
	}
	return res, nil
}

// splitChanges cuts changes into batches of at most limit operations, deletes
// first, then updates, then creates.
func splitChanges(c provider.Changes, limit int) []provider.Changes {
	var out []provider.Changes
	var cur provider.Changes
	flush := func() {
		if !cur.IsEmpty() {
			out = append(out, cur)
			cur = provider.Changes{}
		}
	}
	room := func() {
		if cur.Len() >= limit {
			flush()
		}
	}
	for _, r := range c.Delete {
		room()
		cur.Delete = append(cur.Delete, r)
	}
	for i, r := range c.UpdateNew {
		room()
		cur.UpdateOld = append(cur.UpdateOld, c.UpdateOld[i])
		cur.UpdateNew = append(cur.UpdateNew, r)
	}
	for _, r := range c.Create {
		room()
		cur.Create = append(cur.Create, r)
	}
	flush()
	return out
}

// recordJSON is the part of a DNS record the provider reads.
type recordJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Content  string   `json:"content"`
	TTL      float64  `json:"ttl"`
	Proxied  bool     `json:"proxied"`
	Comment  string   `json:"comment"`
	Priority *float64 `json:"priority"`
	// Data is read only for SRV and CAA: its fields differ by type (NAPTR
	// has string flags), so it is decoded only once the type is known.
	Data json.RawMessage `json:"data"`
}

func (r recordJSON) record() provider.Record {
	t := strings.ToUpper(r.Type)
	return provider.Record{
		ID:      r.ID,
		Name:    provider.NormalizeName(r.Name),
		Type:    t,
		Content: r.content(t),
		TTL:     int(r.TTL),
		Proxied: r.Proxied,
		Comment: r.Comment,
	}
}

// srvCAAData is Cloudflare's data object of SRV and CAA records.
type srvCAAData struct {
	Priority *float64 `json:"priority"`
	Weight   float64  `json:"weight"`
	Port     float64  `json:"port"`
	Target   string   `json:"target"`
	Flags    float64  `json:"flags"`
	Tag      string   `json:"tag"`
	Value    string   `json:"value"`
}

// content puts the parts Cloudflare keeps apart back into the zone-file
// content of provider.Record, in canonical form: an MX's priority beside
// its host, an SRV's and a CAA's data. Cloudflare's own content for SRV
// ("weight port target", sometimes tab-separated) and CAA is used only when
// there is no data.
func (r recordJSON) content(t string) string {
	var d srvCAAData
	hasData := len(r.Data) > 0 && string(r.Data) != "null" && json.Unmarshal(r.Data, &d) == nil
	c := r.Content
	switch t {
	case "MX":
		if r.Priority != nil {
			c = fmt.Sprintf("%d %s", int(*r.Priority), r.Content)
		}
	case "SRV":
		prio := r.Priority
		if hasData && d.Priority != nil {
			prio = d.Priority
		}
		switch {
		case hasData && d.Target != "" && prio != nil:
			c = fmt.Sprintf("%d %d %d %s", int(*prio), int(d.Weight), int(d.Port), d.Target)
		case len(strings.Fields(r.Content)) == 3 && prio != nil:
			c = fmt.Sprintf("%d %s", int(*prio), r.Content)
		}
	case "CAA":
		if hasData && d.Tag != "" {
			return provider.CAA{Flags: uint8(d.Flags), Tag: d.Tag, Value: d.Value}.Content()
		}
	default:
		return c
	}
	return provider.CanonicalContent(t, c)
}

// recordPage is one page of GET /zones/{id}/dns_records.
type recordPage struct {
	Result     []recordJSON `json:"result"`
	ResultInfo struct {
		PerPage    int  `json:"per_page"`
		TotalPages *int `json:"total_pages"`
	} `json:"result_info"`
}

// batchResult is the result of POST /zones/{id}/dns_records/batch.
type batchResult struct {
	Deletes []recordJSON `json:"deletes"`
	Patches []recordJSON `json:"patches"`
	Puts    []recordJSON `json:"puts"`
	Posts   []recordJSON `json:"posts"`
}

func ttlOf(r provider.Record) dns.TTL {
	if r.TTL <= 0 {
		return dns.TTL1
	}
	return dns.TTL(r.TTL)
}

// proxiable types accept the proxied field.
func proxiable(t string) bool { return t == "A" || t == "AAAA" || t == "CNAME" }

// postParam is the typed batch POST for one of provider.SupportedTypes
// (checked, content included, by Changes.Validate before this is called).
// MX content goes as host and priority, SRV and CAA content as data.
func postParam(r provider.Record) dns.RecordBatchParamsPostUnion {
	name, content, comment, ttl := cf.F(provider.NormalizeName(r.Name)), cf.F(r.Content), cf.F(r.Comment), cf.F(ttlOf(r))
	switch strings.ToUpper(r.Type) {
	case "A":
		return dns.ARecordParam{Name: name, TTL: ttl, Type: cf.F(dns.ARecordTypeA), Content: content, Comment: comment, Proxied: cf.F(r.Proxied)}
	case "AAAA":
		return dns.AAAARecordParam{Name: name, TTL: ttl, Type: cf.F(dns.AAAARecordTypeAAAA), Content: content, Comment: comment, Proxied: cf.F(r.Proxied)}
	case "CNAME":
		return dns.CNAMERecordParam{Name: name, TTL: ttl, Type: cf.F(dns.CNAMERecordTypeCNAME), Content: content, Comment: comment, Proxied: cf.F(r.Proxied)}
	case "NS":
		return dns.NSRecordParam{Name: name, TTL: ttl, Type: cf.F(dns.NSRecordTypeNS), Content: content, Comment: comment}
	case "PTR":
		return dns.PTRRecordParam{Name: name, TTL: ttl, Type: cf.F(dns.PTRRecordTypePTR), Content: content, Comment: comment}
	case "MX":
		mx, _ := provider.ParseMX(r.Content)
		return dns.MXRecordParam{Name: name, TTL: ttl, Type: cf.F(dns.MXRecordTypeMX), Comment: comment,
			Content: cf.F(mx.Host), Priority: cf.F(float64(mx.Preference))}
	case "SRV":
		srv, _ := provider.ParseSRV(r.Content)
		return dns.SRVRecordParam{Name: name, TTL: ttl, Type: cf.F(dns.SRVRecordTypeSRV), Comment: comment,
			Data: cf.F(dns.SRVRecordDataParam{
				Priority: cf.F(float64(srv.Priority)), Weight: cf.F(float64(srv.Weight)),
				Port: cf.F(float64(srv.Port)), Target: cf.F(srv.Target),
			})}
	case "CAA":
		caa, _ := provider.ParseCAA(r.Content)
		return dns.CAARecordParam{Name: name, TTL: ttl, Type: cf.F(dns.CAARecordTypeCAA), Comment: comment,
			Data: cf.F(dns.CAARecordDataParam{Flags: cf.F(float64(caa.Flags)), Tag: cf.F(caa.Tag), Value: cf.F(caa.Value)})}
	default: // "TXT"
		return dns.TXTRecordParam{Name: name, TTL: ttl, Type: cf.F(dns.TXTRecordTypeTXT), Content: content, Comment: comment}
	}
}

// putParam is the typed batch PUT: the POST body of postParam with the ID.
func putParam(id string, r provider.Record) dns.BatchPutUnionParam {
	switch p := postParam(r).(type) {
	case dns.ARecordParam:
		return dns.BatchPutARecordParam{ID: cf.F(id), ARecordParam: p}
	case dns.AAAARecordParam:
		return dns.BatchPutAAAARecordParam{ID: cf.F(id), AAAARecordParam: p}
	case dns.CNAMERecordParam:
		return dns.BatchPutCNAMERecordParam{ID: cf.F(id), CNAMERecordParam: p}
	case dns.NSRecordParam:
		return dns.BatchPutNSRecordParam{ID: cf.F(id), NSRecordParam: p}
	case dns.PTRRecordParam:
		return dns.BatchPutPTRRecordParam{ID: cf.F(id), PTRRecordParam: p}
	case dns.MXRecordParam:
		return dns.BatchPutMXRecordParam{ID: cf.F(id), MXRecordParam: p}
	case dns.SRVRecordParam:
		return dns.BatchPutSRVRecordParam{ID: cf.F(id), SRVRecordParam: p}
	case dns.CAARecordParam:
		return dns.BatchPutCAARecordParam{ID: cf.F(id), CAARecordParam: p}
	default: // postParam's default, TXT
		return dns.BatchPutTXTRecordParam{ID: cf.F(id), TXTRecordParam: p.(dns.TXTRecordParam)}
	}
}
