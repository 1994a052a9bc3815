package match

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gaol-project/gaol/internal/match/pyre"
)

// expr is one compiled filter expression.
type expr struct {
	src string // as written, with fail2ban's tags
	re  *pyre.Regexp
	// Group numbers of the groups with a meaning, -1 if absent.
	ip4, ip6, dns, fid, cidr, content, mlfid, nofail, gained int
	// skip are the groups of <SKIPLINES>.
	skip []int
	// alt are the alt_NAME[_N] groups, merged into NAME; tuple the
	// tuple_NAME[_N] groups, combined with NAME.
	alt, tuple []complexGroup
	// category is the kind of attack a failregex's failures are: its
	// <CAT=name> tag, else the filter's category.
	category string
	// slots holds the filter's slot of each group (see groupVals), -1
	// for unnamed groups.
	slots []int
}

// catTagRE matches gaol's <CAT=name> tag.
var catTagRE = regexp.MustCompile(`<CAT=([^<>]*)>`)

// categoryRE is what a category name may be: lower-case words joined by
// "-", "_", "." or ":" (for example "web-probe:git").
var categoryRE = regexp.MustCompile(`^[a-z0-9]+(?:[-_.:][a-z0-9]+)*$`)

var errCategory = errors.New(`want lower-case words joined by "-", "_", "." or ":", such as web-probe:git`)

func validCategory(s string) bool { return len(s) <= 64 && categoryRE.MatchString(s) }

// splitCategory removes the <CAT=name> tag from a failregex and returns
// the name ("" if there is none).
func splitCategory(src string) (string, string, error) {
	m := catTagRE.FindAllStringSubmatchIndex(src, -1)
	switch {
	case len(m) == 0:
		return src, "", nil
	case len(m) > 1:
		return "", "", errors.New("more than one <CAT=...> tag")
	}
	cat := src[m[0][2]:m[0][3]]
	if !validCategory(cat) {
		return "", "", fmt.Errorf("<CAT=%s>: %w", cat, errCategory)
	}
	return src[:m[0][0]] + src[m[0][1]:], cat, nil
}

// complexGroup is an alt_ or tuple_ group and the field it feeds.
type complexGroup struct {
	group int
	name  string // the group's own name, for ordering
	field string
	// slot and fieldSlot are the filter's slots of the group and of
	// its field (see groupVals).
	slot, fieldSlot int
}

// complexNameRE parses alt_ and tuple_ group names (COMPLNAME_CRE).
var complexNameRE = regexp.MustCompile(`^(alt_|tuple_)(.*?)(?:_\d+)?$`)

// compileExpr expands the tags of a filter expression and compiles it.
// multiline makes ^ and $ match at line boundaries (a failregex of a
// filter that buffers several lines).
func compileExpr(src, useDNS string, multiline bool) (*expr, error) {
	s := globalFlagsToLocal(expandTags(src, useDNS))
	if strings.TrimSpace(s) == "" {
		return nil, errEmpty
	}
	var flags pyre.Flags
	if multiline {
		flags = pyre.Multiline
	}
	re, err := pyre.Compile(s, pyre.Options{Flags: flags})
	if err != nil {
		return nil, err
	}
	e := &expr{src: src, re: re}
	e.ip4 = re.GroupIndex(groupIP4)
	e.ip6 = re.GroupIndex(groupIP6)
	e.dns = re.GroupIndex(groupDNS)
	e.fid = re.GroupIndex(groupFID)
	e.cidr = re.GroupIndex(groupCIDR)
	e.content = re.GroupIndex(groupContent)
	e.mlfid = re.GroupIndex(groupMLFID)
	e.nofail = re.GroupIndex(groupNoFail)
	e.gained = re.GroupIndex(groupMLFGained)
	for k, name := range re.GroupNames() {
		if strings.HasPrefix(name, "skiplines") {
			e.skip = append(e.skip, k)
		}
		if len(name) <= len("alt_") {
			continue
		}
		if m := complexNameRE.FindStringSubmatch(name); m != nil {
			g := complexGroup{group: k, name: name, field: fieldName(m[2])}
			if m[1] == "alt_" {
				e.alt = append(e.alt, g)
			} else {
				e.tuple = append(e.tuple, g)
			}
		}
	}
	byName := func(gs []complexGroup) {
		sort.Slice(gs, func(i, j int) bool {
			return gs[i].name < gs[j].name || gs[i].name == gs[j].name && gs[i].field < gs[j].field
		})
	}
	byName(e.alt)
	byName(e.tuple)
	return e, nil
}

// noFail reports whether a match marks no failure: its <F-NOFAIL> or
// <F-MLFGAINED> group is not empty.
func (e *expr) noFail(s string, caps []int) bool {
	if v, ok := group(s, caps, e.nofail); ok && v != "" {
		return true
	}
	v, ok := group(s, caps, e.gained)
	return ok && v != ""
}

// hasFailureID reports whether the expression has a group that identifies
// a failure (fail2ban's FAILURE_ID_PRESENTS).
func (e *expr) hasFailureID() bool {
	return e.ip4 >= 0 || e.ip6 >= 0 || e.dns >= 0 || e.fid >= 0 || e.mlfid >= 0
}

// group returns the text of group k of a match, and whether it took part.
func group(s string, caps []int, k int) (string, bool) {
	if k < 0 || 2*k+1 >= len(caps) || caps[2*k] < 0 {
		return "", false
	}
	return s[caps[2*k]:caps[2*k+1]], true
}

// simple reports whether the expression has no alt_ or tuple_ groups: its
// groups are what its match captured.
func (e *expr) simple() bool { return len(e.alt) == 0 && len(e.tuple) == 0 }
