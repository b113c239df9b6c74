package api

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// MaxListLimit is the largest page GET /v1/hosts and GET /v1/vms accept (?limit=).
const MaxListLimit = 5000

// pageQuery is the paging part of a list query: at most Limit items whose key sorts after
// After. Paged is false when the query has neither, and the whole list is answered as before.
type pageQuery struct {
	After string
	Limit int
	Paged bool
}

// parsePageQuery parses ?limit=&after= of a list endpoint; errors name the parameter at fault.
// what names the key after holds ("host name", "VM UUID").
func parsePageQuery(raw, what string) (pageQuery, error) {
	q := pageQuery{Limit: MaxListLimit}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("query: %w", err)
	}
	for key, vs := range vals {
		if len(vs) != 1 {
			return q, fmt.Errorf("query parameter %q given %d times: want it once", key, len(vs))
		}
		v := vs[0]
		switch key {
		case "after":
			if v == "" {
				return q, fmt.Errorf("after is empty: want the %s of the last item of the previous page", what)
			}
			q.After, q.Paged = v, true
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxListLimit {
				return q, fmt.Errorf("limit %q: want an integer from 1 to %d", v, MaxListLimit)
			}
			q.Limit, q.Paged = n, true
		default:
			return q, fmt.Errorf("unknown query parameter %q: want limit or after", key)
		}
	}
	return q, nil
}

// page sorts items by key and returns at most q.Limit of those whose key sorts after q.After,
// and the key to ask for the next page with ("" when this page is the last).
func page[T any](items []T, key func(T) string, q pageQuery) ([]T, string) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := sort.Search(len(items), func(i int) bool { return key(items[i]) > q.After })
	items = items[start:]
	if len(items) <= q.Limit {
		return items, ""
	}
	items = items[:q.Limit]
	return items, key(items[len(items)-1])
}

// setNextLink announces the next page in a Link header (RFC 8288), rel="next".
func setNextLink(w http.ResponseWriter, r *http.Request, q pageQuery, next string) {
	if next == "" {
		return
	}
	v := url.Values{"limit": {strconv.Itoa(q.Limit)}, "after": {next}}
	w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, v.Encode()))
}
