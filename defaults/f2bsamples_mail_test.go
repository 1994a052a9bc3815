package defaults_test

// postfixSpec maps the modes of fail2ban's postfix filter to gaol's.
// fail2ban's default mode ("more") and its "normal" mode both ban on
// policy rejections (unknown client host name, HELO, sender, unknown
// recipients, blocklists), which gaol counts only in its mode "more": both
// run as postfix[mode=more]. The other modes have the same names.
func postfixSpec(opts map[string]string) (string, bool) {
	switch mode := opts["mode"]; mode {
	case "", "more", "normal":
		return "postfix[mode=more]", true
	case "auth", "rbl", "ddos", "errors", "extra", "aggressive":
		return "postfix[mode=" + mode + "]", true
	default:
		return "", false
	}
}

func init() {
	comparisons = append(comparisons, comparison{
		ours:   "postfix",
		theirs: []string{"postfix"},
		spec:   postfixSpec,
		known:  map[string]string{},
	})
}

// dovecotSpec maps the modes of fail2ban's dovecot filter to gaol's: both
// have normal (the default) and aggressive.
func dovecotSpec(opts map[string]string) (string, bool) {
	switch mode := opts["mode"]; mode {
	case "", "normal":
		return "dovecot", true
	case "aggressive":
		return "dovecot[mode=aggressive]", true
	default:
		return "", false
	}
}

func init() {
	comparisons = append(comparisons, comparison{
		ours:   "dovecot",
		theirs: []string{"dovecot"},
		spec:   dovecotSpec,
		known:  map[string]string{},
	})
}
