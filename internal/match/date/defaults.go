package date

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// defaultPatterns are the formats fail2ban looks for when a filter sets no
// datepattern, in its order (its DateDetectorCache.DEFAULT_TEMPLATES).
var defaultPatterns = []string{
	// ISO 8601 and the like: 2005-01-23T21:59:59.981746,
	// 2005-01-23 21:59:59, 2005/01/23 21:59:59, 2006.12.21 06:43:20.
	isoPattern,
	// asctime and BSD syslog: Sun Jan 23 21:59:59.011 2005, Jan 23 21:59:59.
	syslogPattern,
	// Sun Jan 23 2005 21:59:59.011.
	`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
	// 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25.
	`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
	// Apache: [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252.
	apachePattern,
	// CPanel: 05/20/2008:01:57:39.
	`%m/%d/%ExY:%H:%M:%S`,
	// 01-27-2012 16:22:44.252.
	`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
	// Seconds since the epoch.
	`EPOCH`,
	// A time alone, at the start of the line.
	`{^LN-BEG}%H:%M:%S`,
	// <09/16/08@05:03:30>.
	`^<%m/%d/%Exy@%H:%M:%S>`,
	// MySQL: 130322 11:46:11.
	`%Exy%Exm%Exd  ?%H:%M:%S`,
	// Apache Tomcat: Apr 27, 2013 2:33:06 PM.
	`%b %d, %ExY %I:%M:%S %p`,
	// ASSP: Apr-27-13 02:33:06.
	`^%b-%d-%Exy %k:%M:%S`,
	// 20050123T215959, 20050123 215959.
	`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
	// After a zone name (monit): PDT Apr 16 21:05:29.
	`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	// After a zone offset: +00:00 Jan 23 21:59:59.011 2005.
	`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	// TAI64N (daemontools): @4000000037c219bf2ef02e94.
	`TAI64N`,
}

// templateSet is the default templates for one year range.
type templateSet struct {
	// originals are the templates of defaultPatterns, in order.
	originals []template
	// all is fail2ban's default list: each original that is not anchored
	// at the start of the line, anchored there (tried first: most logs
	// begin with their date), then the originals.
	all []template
}

// templateSets caches the default templates by the first year %ExY
// rejects (they depend on the clock only through it).
var templateSets sync.Map // int -> *templateSet

// defaultTemplates returns the default templates for the year range of
// now.
func defaultTemplates(now time.Time) *templateSet {
	key := lastYear(now) / 10
	if ts, ok := templateSets.Load(key); ok {
		return ts.(*templateSet)
	}
	ts := &templateSet{}
	var anchored []template
	for _, p := range defaultPatterns {
		t, err := newPatternTemplate(p, now)
		if err != nil {
			panic(fmt.Sprintf("default date pattern %q: %v", p, err))
		}
		ts.originals = append(ts.originals, t)
		if n := t.name(); strings.HasPrefix(n, "{^LN-BEG}") || strings.HasPrefix(n, "^") {
			continue
		}
		a, err := newPatternTemplate("{^LN-BEG}"+p, now)
		if err != nil {
			panic(fmt.Sprintf("default date pattern %q: %v", p, err))
		}
		anchored = append(anchored, a)
	}
	ts.all = append(anchored, ts.originals...)
	v, _ := templateSets.LoadOrStore(key, ts)
	return v.(*templateSet)
}

// buildTemplates returns the templates of a filter's datepattern (one
// pattern per line), as fail2ban's DateDetector.appendTemplate: "{^LN-BEG}"
// alone adds the default templates anchored at the start of the line,
// "{DEFAULT}" all default templates, a pattern with "{DATE}" each default
// format in its place, "{NONE}" no date at all (the line's time is the
// previous line's, or now).
func buildTemplates(pattern string, now time.Time) ([]template, error) {
	var out []template
	names := map[string]bool{}
	add := func(t template, ignoreDup bool) error {
		if names[t.name()] {
			if ignoreDup {
				return nil
			}
			return fmt.Errorf("date pattern %q given twice", t.name())
		}
		names[t.name()] = true
		out = append(out, t)
		return nil
	}
	for _, line := range strings.Split(pattern, "\n") {
		p := strings.TrimSpace(line)
		if p == "" {
			continue
		}
		key := p
		if !strings.Contains(p, "%") {
			key = strings.ToUpper(p)
		}
		switch {
		case key == "{^LN-BEG}" || key == "{DEFAULT}":
			dup := len(out) > 0
			for _, t := range defaultTemplates(now).all {
				if key == "{^LN-BEG}" && t.flags()&flagLineBegin == 0 {
					continue
				}
				if err := add(t, dup); err != nil {
					return nil, err
				}
			}
			continue
		case strings.Contains(key, "{DATE}"):
			dup := len(out) > 0
			for _, dp := range defaultPatterns {
				inner := unboundPattern(dp)
				switch dp {
				case "EPOCH":
					inner = "Epoch"
				case "TAI64N":
					inner = "TAI64N"
				}
				t, err := newPatternTemplate(strings.ReplaceAll(p, "{DATE}", inner), now)
				if err != nil {
					return nil, err
				}
				if err := add(t, dup); err != nil {
					return nil, err
				}
			}
			continue
		}
		var t template
		var err error
		if key == "{NONE}" {
			t, err = newPatternTemplate("{UNB}^", now)
		} else {
			t, err = newPatternTemplate(p, now)
		}
		if err != nil {
			return nil, err
		}
		if err := add(t, false); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errEmptyPattern
	}
	return out, nil
}
