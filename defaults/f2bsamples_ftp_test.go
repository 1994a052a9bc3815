package defaults_test

func init() {
	comparisons = append(comparisons,
		comparison{
			ours:   "vsftpd",
			theirs: []string{"vsftpd"},
			spec:   defaultSpec("vsftpd"),
			known:  map[string]string{},
		},
		comparison{
			ours:   "proftpd",
			theirs: []string{"proftpd"},
			spec:   defaultSpec("proftpd"),
			known:  map[string]string{},
		},
	)
}
