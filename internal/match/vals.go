package match

import "slices"

// groupVals are the named groups of a match, by slot (the dict fail2ban
// keeps for a failure): a slot per group name of the filter, the names
// every filter has first (slotIP4...), then the filter's own (see
// Filter.names). Merging two of them is a copy of slots, with no hashing.
type groupVals []groupVal

// groupVal is the value of a group, if it took part.
type groupVal struct {
	s  string
	ok bool
}

// The slots of the groups gaol itself reads.
const (
	slotIP4 = iota
	slotIP6
	slotDNS
	slotFID
	slotCIDR
	slotContent
	slotMLFID
	slotNoFail
	slotMLFForget
	slotMLFGained
	slotUser
	numFixedSlots
)

// fixedSlotNames are the names of the slots before numFixedSlots.
var fixedSlotNames = [numFixedSlots]string{
	groupIP4, groupIP6, groupDNS, groupFID, groupCIDR, groupContent,
	groupMLFID, groupNoFail, groupMLFForget, groupMLFGained, groupUser,
}

func (v groupVals) get(k int) (string, bool) { return v[k].s, v[k].ok }

// str returns the value of slot k, "" if its group did not take part.
func (v groupVals) str(k int) string { return v[k].s }

func (v groupVals) has(k int) bool { return v[k].ok }

func (v groupVals) set(k int, s string) { v[k] = groupVal{s, true} }

func (v groupVals) del(k int) { v[k] = groupVal{} }

// pop removes slot k and reports whether its value was not empty.
func (v groupVals) pop(k int) bool {
	s := v[k].s
	v[k] = groupVal{}
	return s != ""
}

// update sets the slots of o that are set (a dict's update).
func (v groupVals) update(o groupVals) {
	for k := range o {
		if o[k].ok {
			v[k] = o[k]
		}
	}
}

// hasIdentifier reports whether the groups identify a failure (ip4, ip6,
// dns or fid took part).
func (v groupVals) hasIdentifier() bool {
	return v[slotIP4].ok || v[slotIP6].ok || v[slotDNS].ok || v[slotFID].ok
}

// addName gives name a slot in f, if it has none yet.
func (f *Filter) addName(name string) {
	if _, ok := f.slotOf[name]; !ok {
		f.slotOf[name] = len(f.names)
		f.names = append(f.names, name)
	}
}

// nameSlots gives every group name of f's expressions (and every field
// their alt_ and tuple_ groups feed) a slot, and each expression the slot
// of each of its groups.
func (f *Filter) nameSlots() {
	f.names = slices.Clone(fixedSlotNames[:])
	f.slotOf = make(map[string]int, len(f.names))
	for k, n := range f.names {
		f.slotOf[n] = k
	}
	exprs := append([]*expr{f.pref}, f.fail...)
	for _, e := range exprs {
		if e == nil {
			continue
		}
		names := e.re.GroupNames()
		e.slots = make([]int, len(names))
		for k, n := range names {
			e.slots[k] = -1
			if n != "" && k > 0 {
				f.addName(n)
				e.slots[k] = f.slotOf[n]
			}
		}
		for _, gs := range [][]complexGroup{e.alt, e.tuple} {
			for k := range gs {
				f.addName(gs[k].field)
				gs[k].slot, gs[k].fieldSlot = e.slots[gs[k].group], f.slotOf[gs[k].field]
			}
		}
	}
}

// newVals returns empty groups for f.
func (f *Filter) newVals() groupVals { return make(groupVals, len(f.names)) }

// slotVal is a group of a match that took part: its slot and its value.
// A match's groups are kept as a list of them, the order of which
// matters: a later value of a slot replaces an earlier one, as when a
// dict is updated.
type slotVal struct {
	s    string
	slot int
}

// setAll sets the slots of gs in v, in order.
func (v groupVals) setAll(gs []slotVal) {
	for _, g := range gs {
		v[g.slot] = groupVal{g.s, true}
	}
}

// lastVal returns the value of slot in gs (the last one), and whether gs
// has one.
func lastVal(gs []slotVal, slot int) (string, bool) {
	for k := len(gs) - 1; k >= 0; k-- {
		if gs[k].slot == slot {
			return gs[k].s, true
		}
	}
	return "", false
}

// addGroups appends to out the named groups of a match of e (caps over t)
// that took part, with its alt_ and tuple_ groups merged as fail2ban
// does.
func (f *Filter) addGroups(out []slotVal, e *expr, t *text, caps []int) []slotVal {
	start := len(out)
	for k, slot := range e.slots {
		if slot >= 0 && 2*k+1 < len(caps) && caps[2*k] >= 0 {
			out = append(out, slotVal{t.sub(caps[2*k], caps[2*k+1]), slot})
		}
	}
	if e.simple() {
		return out
	}
	// As fail2ban: an alt_ group gives its field its value if the field
	// has none (or an empty one)...
	for _, g := range e.alt {
		if v, _ := lastVal(out[start:], g.slot); v != "" {
			if cur, _ := lastVal(out[start:], g.fieldSlot); cur == "" {
				out = append(out, slotVal{v, g.fieldSlot})
			}
		}
	}
	// ... and tuple_ groups are written with their field as Python
	// prints a tuple: ('a', 'b', None).
	elem := func(s string, ok bool) string {
		if !ok {
			return "None"
		}
		return "'" + s + "'"
	}
	for i, g := range e.tuple {
		v, vok := lastVal(out[start:], g.slot)
		cur, cok := lastVal(out[start:], g.fieldSlot)
		tupled := slices.ContainsFunc(e.tuple[:i], func(h complexGroup) bool { return h.fieldSlot == g.fieldSlot })
		if tupled {
			out = append(out, slotVal{cur[:len(cur)-1] + ", " + elem(v, vok) + ")", g.fieldSlot})
		} else {
			out = append(out, slotVal{"(" + elem(cur, cok) + ", " + elem(v, vok) + ")", g.fieldSlot})
		}
	}
	return out
}

// fieldMap returns the groups that took part as a map (Failure.Fields).
func (f *Filter) fieldMap(v groupVals) map[string]string {
	n := 0
	for k := range v {
		if v[k].ok {
			n++
		}
	}
	out := make(map[string]string, n)
	for k := range v {
		if v[k].ok {
			out[f.names[k]] = v[k].s
		}
	}
	return out
}
