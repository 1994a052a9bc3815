package netnstest

import (
	"encoding/json"
	"fmt"
)

// SetElement is one element of a set as `nft -j list set` shows it.
type SetElement struct {
	// Value is the element: an address ("2001:db8:1::"), a prefix
	// ("2001:db8::/48") or a range ("192.0.2.1-192.0.2.6").
	Value string
	// HasTimeout reports that the element has a timeout of its own.
	HasTimeout bool
}

// SetElements returns the elements of the sets in out, the output of
// `nft -j list set ...` (or of a listing of several sets).
func SetElements(out []byte) ([]SetElement, error) {
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("reading nft's JSON: %w", err)
	}
	var els []SetElement
	for _, n := range doc.Nftables {
		if n.Set == nil {
			continue
		}
		for _, raw := range n.Set.Elem {
			var timed struct {
				Elem *struct {
					Val     json.RawMessage `json:"val"`
					Timeout int             `json:"timeout"`
				} `json:"elem"`
			}
			var el SetElement
			if json.Unmarshal(raw, &timed) == nil && timed.Elem != nil {
				raw, el.HasTimeout = timed.Elem.Val, timed.Elem.Timeout > 0
			}
			v, err := elementValue(raw)
			if err != nil {
				return nil, err
			}
			el.Value = v
			els = append(els, el)
		}
	}
	return els, nil
}

// elementValue renders the value of an element: a string, a prefix object
// or a range of two values.
func elementValue(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var v struct {
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
		Range []json.RawMessage `json:"range"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("set element %s: %w", raw, err)
	}
	switch {
	case v.Prefix != nil:
		return fmt.Sprintf("%s/%d", v.Prefix.Addr, v.Prefix.Len), nil
	case len(v.Range) == 2:
		lo, err := elementValue(v.Range[0])
		if err != nil {
			return "", err
		}
		hi, err := elementValue(v.Range[1])
		if err != nil {
			return "", err
		}
		return lo + "-" + hi, nil
	}
	return "", fmt.Errorf("set element %s: neither an address, a prefix nor a range", raw)
}
