package command

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Operation tags, as fail2ban names an action's commands.
const (
	opStart   = "actionstart"
	opStop    = "actionstop"
	opCheck   = "actioncheck"
	opBan     = "actionban"
	opUnban   = "actionunban"
	opFlush   = "actionflush"
	opProlong = "actionprolong"
	opRepair  = "actionrepair"
	opReban   = "actionreban"
)

// Family flags of an action, as fail2ban's CommandAction keeps them.
const (
	famStarted  = 1
	famHasItems = 2
)

// family names as fail2ban's <family> tag gives them.
const (
	familyInet4 = "inet4"
	familyInet6 = "inet6"
)

// actionState is one action of one jail while it runs.
type actionState struct {
	jail string
	a    Action
	st   *statics
	run  *runner
	log  *slog.Logger
	now  func() time.Time

	// families are those the action is started for at once: [""], or
	// inet4 and inet6 for an action with conditional options, which is
	// then started on demand, for the family of its first ban.
	families []string
	onDemand bool

	mu       sync.Mutex
	started  map[string]int               // family -> famStarted|famHasItems
	executed map[string]map[string]string // operation -> family -> command run
	repairMu sync.Mutex                   // one invariant check and repair at a time
}

func newActionState(jail string, a Action, run *runner, log *slog.Logger, now func() time.Time, local func(string) (string, bool)) *actionState {
	values := make(map[string]string, len(a.Init)+10)
	maps.Copy(values, a.Init)
	if _, ok := values["name"]; !ok {
		values["name"] = jail
	}
	for tag, cmd := range map[string]string{
		opStart: a.Start, opStop: a.Stop, opCheck: a.Check, opBan: a.Ban, opUnban: a.Unban,
		opFlush: a.Flush, opProlong: a.Prolong, opRepair: a.Repair, opReban: a.Reban,
	} {
		if _, ok := values[tag]; !ok || cmd != "" {
			values[tag] = cmd
		}
	}
	as := &actionState{
		jail:     jail,
		a:        a,
		st:       newStatics(values, local),
		run:      run,
		log:      log.With("jail", jail, "action", a.Name),
		now:      now,
		started:  make(map[string]int),
		executed: make(map[string]map[string]string),
	}
	conditional := false
	for k := range values {
		if strings.Contains(k, "?family=") {
			conditional = true
			break
		}
	}
	as.families = []string{""}
	if conditional {
		as.families = []string{familyInet4, familyInet6}
	}
	as.onDemand = conditional
	if v, ok := values["actionstart_on_demand"]; ok {
		as.onDemand = truthy(v)
	}
	return as
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// timeout returns the action's Timeout, or its "timeout" option in
// seconds, or DefaultTimeout.
func (as *actionState) timeout() time.Duration {
	if as.a.Timeout > 0 {
		return as.a.Timeout
	}
	if v, ok := as.st.lookup("timeout", ""); ok {
		if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && n > 0 {
			return time.Duration(n * float64(time.Second))
		}
	}
	return DefaultTimeout
}

func (as *actionState) noRestored() bool {
	v, _ := as.st.lookup("norestored", "")
	return truthy(v)
}

func (as *actionState) defined(op, family string) bool {
	v, _ := as.st.lookup(op, cond(family))
	return strings.TrimSpace(v) != ""
}

func cond(family string) string {
	if family == "" {
		return ""
	}
	return "family=" + family
}

// command returns the operation's command for a family with the ban's
// values (in is nil for operations without a ban). An empty text means
// nothing to run.
func (as *actionState) command(op, family string, in *Info) (script, error) {
	text, err := as.st.expand("<"+op+">", cond(family))
	if err != nil {
		return script{}, fmt.Errorf("%s: %w", op, err)
	}
	if strings.TrimSpace(text) == "" {
		return script{}, nil
	}
	info := Info{}
	if in != nil {
		info = *in
	}
	sc, err := substituteDynamic(text, info.lookup(family, as.now()))
	if err != nil {
		return script{}, fmt.Errorf("%s: %w", op, err)
	}
	return sc, nil
}

// exec runs a command, logging it.
func (as *actionState) exec(op string, sc script) error {
	start := time.Now()
	err := as.run.run(sc, as.timeout())
	if err != nil {
		as.log.Error("action command failed", "op", op, "cmd", sc.text, "err", err)
		return fmt.Errorf("%w: jail %q action %q: %s: %w", ErrActionFailed, as.jail, as.a.Name, op, err)
	}
	as.log.Debug("action command", "op", op, "cmd", sc.text, "took", time.Since(start))
	return nil
}

// operation runs an operation without a ban (start, stop, flush, check)
// for families. A command runs once for all the families it is the same
// for; actionstart and actionstop are also skipped for a family when
// another family already ran the same command and has not undone it (see
// recordExecuted). after sees each family's outcome.
func (as *actionState) operation(op string, families []string, after func(family string, ok bool)) error {
	var errs []error
	ran := make(map[string]bool)
	for _, fam := range families {
		sc, err := as.command(op, fam, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok := true
		if sc.text != "" && !ran[sc.text] && !as.ranForOther(op, fam, sc.text) {
			if err := as.exec(op, sc); err != nil {
				errs = append(errs, err)
				ok = false
			}
			ran[sc.text] = true
		}
		if after != nil {
			after(fam, ok)
		}
	}
	return errors.Join(errs...)
}

// persistent reports whether an operation's executed commands are
// remembered across calls: actionstart until actionstop runs, and the
// other way round.
func persistent(op string) bool { return op == opStart || op == opStop }

func (as *actionState) ranForOther(op, family, text string) bool {
	if !persistent(op) {
		return false
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	for f, t := range as.executed[op] {
		if f != family && t == text {
			return true
		}
	}
	return false
}

// recordExecuted remembers that op ran text for a family, and forgets what
// its opposite (actionstop for actionstart, and the other way round) ran
// for that family and, with the same command, for any other.
func (as *actionState) recordExecuted(op, family, text string) {
	opposite := opStop
	if op == opStop {
		opposite = opStart
	}
	undone, _ := as.command(opposite, family, nil)
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.executed[op] == nil {
		as.executed[op] = make(map[string]string)
	}
	as.executed[op][family] = text
	m := as.executed[opposite]
	for f, t := range m {
		if f == family || (undone.text != "" && t == undone.text) {
			delete(m, f)
		}
	}
}

func (as *actionState) flags(family string) int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.started[family]
}

func (as *actionState) setFlags(family string, fn func(int) int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.started[family] = fn(as.started[family])
}

// start runs actionstart: for every family at jail start (forced or not
// on demand), or for one family.
func (as *actionState) start(family string, force bool) error {
	if !force && (as.onDemand || family != "" && as.flags(family)&famStarted != 0) {
		return nil
	}
	families := as.families
	if family != "" {
		families = []string{family}
	}
	return as.operation(opStart, families, func(fam string, ok bool) {
		if ok {
			if sc, err := as.command(opStart, fam, nil); err == nil {
				as.recordExecuted(opStart, fam, sc.text)
			}
			as.setFlags(fam, func(v int) int { return v | famStarted })
		}
	})
}

// stop runs actionstop for every started family, or for one.
func (as *actionState) stop(family string) error {
	var families []string
	as.mu.Lock()
	if family == "" {
		for f, v := range as.started {
			if v != 0 {
				families = append(families, f)
			}
		}
		as.started = make(map[string]int)
	} else if _, ok := as.started[family]; ok {
		as.started[family] = 0
		families = []string{family}
	}
	as.mu.Unlock()
	if len(families) == 0 {
		return nil
	}
	sortFamilies(families)
	return as.operation(opStop, families, func(fam string, ok bool) {
		if ok {
			if sc, err := as.command(opStop, fam, nil); err == nil {
				as.recordExecuted(opStop, fam, sc.text)
			}
		}
	})
}

// sortFamilies sorts families as fail2ban starts them: "", inet4, inet6.
func sortFamilies(fs []string) { slices.Sort(fs) }

// flush runs actionflush for the families that hold bans. It reports
// false, doing nothing, when the action has no actionflush: the caller
// then unbans each ban.
func (as *actionState) flush() (bool, error) {
	if !as.defined(opFlush, "") && !as.defined(opFlush, familyInet4) && !as.defined(opFlush, familyInet6) {
		return false, nil
	}
	var families []string
	as.mu.Lock()
	for f, v := range as.started {
		if v&(famStarted|famHasItems) == famStarted|famHasItems {
			families = append(families, f)
		}
	}
	as.mu.Unlock()
	if len(families) == 0 {
		return true, nil
	}
	sortFamilies(families)
	return true, as.operation(opFlush, families, func(fam string, ok bool) {
		if ok {
			as.setFlags(fam, func(v int) int { return v &^ famHasItems })
		}
	})
}

// ban runs actionban (or actionreban) for one ban, starting the action for
// the ban's family first if it starts on demand.
func (as *actionState) ban(in *Info, op string) error {
	family := in.family()
	if err := as.startOnDemand(family); err != nil {
		return err
	}
	if err := as.process(op, in); err != nil {
		return err
	}
	as.setFlags(family, func(v int) int { return v | famStarted | famHasItems })
	return nil
}

// startOnDemand starts an action that starts on demand for a family, once.
func (as *actionState) startOnDemand(family string) error {
	if !as.onDemand {
		return nil
	}
	as.repairMu.Lock()
	defer as.repairMu.Unlock()
	if as.flags(family)&famStarted != 0 {
		return nil
	}
	return as.start(family, true)
}

// unban runs actionunban for a ban of a family that holds bans.
func (as *actionState) unban(in *Info) error {
	if as.flags(in.family())&famHasItems == 0 {
		return nil
	}
	return as.process(opUnban, in)
}

func (as *actionState) prolongable() bool {
	return as.defined(opProlong, "") || as.defined(opProlong, familyInet4) || as.defined(opProlong, familyInet6)
}

// process runs a ban's command. If it fails and the action has an
// actioncheck, the check runs, a failing check repairs the action
// (actionrepair, or actionstop and actionstart), and the command runs once
// more: fail2ban's _processCmd.
func (as *actionState) process(op string, in *Info) error {
	family := in.family()
	sc, err := as.command(op, family, in)
	if err != nil || sc.text == "" {
		return err
	}
	err = as.exec(op, sc)
	if err == nil {
		return nil
	}
	if as.defined(opCheck, family) {
		ok, cerr := as.invariantCheck(family, op == opUnban)
		if !ok {
			return errors.Join(err, cerr)
		}
	}
	if err2 := as.exec(op, sc); err2 != nil {
		return errors.Join(err, err2)
	}
	return nil
}

// invariantCheck runs actioncheck and, if it fails, repairs the action
// and checks again. For an unban the action is repaired only if
// actionrepair_on_unban is set.
func (as *actionState) invariantCheck(family string, unban bool) (bool, error) {
	as.repairMu.Lock()
	defer as.repairMu.Unlock()
	check, err := as.command(opCheck, family, nil)
	if err != nil {
		return false, err
	}
	if check.text == "" || as.exec(opCheck, check) == nil {
		return true, nil
	}
	if unban {
		if v, _ := as.st.lookup("actionrepair_on_unban", ""); !truthy(v) {
			return false, fmt.Errorf("jail %q action %q: actioncheck failed: the unban is impossible", as.jail, as.a.Name)
		}
	}
	as.log.Error("actioncheck failed; trying to restore a sane environment", "family", family)
	repair, err := as.command(opRepair, family, nil)
	if err != nil {
		return false, err
	}
	if repair.text != "" {
		if err := as.exec(opRepair, repair); err != nil {
			as.setFlags(family, func(int) int { return 0 })
			return false, fmt.Errorf("jail %q action %q: unable to restore the environment: %w", as.jail, as.a.Name, err)
		}
		as.setFlags(family, func(int) int { return famStarted })
	} else {
		_ = as.stop(family) // a failing stop does not matter if start and check succeed
		if err := as.start(family, true); err != nil {
			return false, err
		}
	}
	if as.flags(family)&famStarted != 0 {
		if err := as.exec(opCheck, check); err != nil {
			return false, fmt.Errorf("jail %q action %q: unable to restore the environment: %w", as.jail, as.a.Name, err)
		}
	}
	return true, nil
}

// family returns the ban's family as <family> gives it.
func (in *Info) family() string {
	if in.Prefix.IsValid() && in.Prefix.Addr().Unmap().Is4() {
		return familyInet4
	}
	if in.Prefix.IsValid() {
		return familyInet6
	}
	return ""
}

// ipString returns the address of a single-address prefix, the prefix
// otherwise, as fail2ban's <ip> shows them.
func (in *Info) ipString() string {
	if !in.Prefix.IsValid() {
		return ""
	}
	p := in.Prefix
	a := p.Addr().Unmap()
	if p.Bits() == p.Addr().BitLen() {
		return a.String()
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a, p.Bits()-96).Masked().String()
	}
	return p.Masked().String()
}

// ipRev returns the address in reverse DNS form without the zone, as
// fail2ban's <ip-rev>: "1.2.0.192." for 192.0.2.1.
func (in *Info) ipRev() string {
	if !in.Prefix.IsValid() {
		return ""
	}
	a := in.Prefix.Addr().Unmap()
	var parts []string
	if a.Is4() {
		b := a.As4()
		for i := 3; i >= 0; i-- {
			parts = append(parts, strconv.Itoa(int(b[i])))
		}
	} else {
		b := a.As16()
		for i := 15; i >= 0; i-- {
			parts = append(parts, strconv.FormatUint(uint64(b[i]&0xf), 16), strconv.FormatUint(uint64(b[i]>>4), 16))
		}
	}
	return strings.Join(parts, ".") + "."
}

// lookup returns the values of the ban's tags for substituteDynamic.
// family, when not empty, is the family of an operation without a ban.
func (in *Info) lookup(family string, now time.Time) func(string) (dynValue, bool) {
	return func(tag string) (dynValue, bool) {
		trusted := func(s string) (dynValue, bool) { return dynValue{value: s, trusted: true}, true }
		data := func(s string) (dynValue, bool) { return dynValue{value: s}, true }
		switch tag {
		case "ip":
			return trusted(in.ipString())
		case "family":
			if family != "" || !in.Prefix.IsValid() {
				return trusted(family)
			}
			return trusted(in.family())
		case "ip-rev":
			return trusted(in.ipRev())
		case "ip-host":
			return data(in.Host)
		case "fid":
			if in.ID == "" {
				return data(in.ipString())
			}
			return data(in.ID)
		case "failures":
			return trusted(strconv.Itoa(in.Failures))
		case "ipfailures":
			return trusted(strconv.Itoa(orInt(in.IPFailures, in.Failures)))
		case "ipjailfailures":
			return trusted(strconv.Itoa(orInt(in.IPJailFailures, in.Failures)))
		case "time":
			t := in.Time
			if t.IsZero() {
				t = now
			}
			return trusted(strconv.FormatInt(t.Unix(), 10))
		case "bantime":
			return trusted(strconv.FormatInt(in.banSeconds(), 10))
		case "bancount":
			return trusted(strconv.Itoa(in.Count))
		case "restored":
			if in.Restored {
				return trusted("1")
			}
			return trusted("0")
		case "matches":
			return data(strings.Join(in.Matches, "\n"))
		case "ipmatches":
			return data(strings.Join(orLines(in.IPMatches, in.Matches), "\n"))
		case "ipjailmatches":
			return data(strings.Join(orLines(in.IPJailMatches, in.Matches), "\n"))
		}
		if name, ok := strings.CutPrefix(tag, "F-"); ok && fieldTag(name) {
			v, ok := in.field(name)
			if !ok {
				return trusted("") // as fail2ban: a missing group is empty
			}
			return data(v)
		}
		return dynValue{}, false
	}
}

// fieldTag reports whether name is a valid <F-NAME> tag name: capitals,
// digits, '_' and '-', as fail2ban's <F-([A-Z0-9_\-]+)>.
func fieldTag(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// field returns the value of the <F-NAME> group: Fields["name"] in lower
// case, <F-ID> and <F-PORT> also as "fid" and "fport" as fail2ban names
// them.
func (in *Info) field(name string) (string, bool) {
	key := strings.ToLower(name)
	if v, ok := in.Fields[key]; ok {
		return v, true
	}
	switch key {
	case "id":
		v, ok := in.Fields["fid"]
		return v, ok
	case "port":
		v, ok := in.Fields["fport"]
		return v, ok
	}
	return "", false
}

// banSeconds returns <bantime>: the ban's length in seconds, -1 for a
// permanent ban.
func (in *Info) banSeconds() int64 {
	d := in.BanTime
	if d == 0 {
		d = in.Timeout
	}
	if d <= 0 {
		return -1
	}
	return int64((d + time.Second - 1) / time.Second)
}

func orInt(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

func orLines(v, def []string) []string {
	if v != nil {
		return v
	}
	return def
}
