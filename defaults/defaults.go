// Package defaults holds gaol's built-in configuration: jail.conf and the
// filter.d and action.d directories, in fail2ban's dialect, compiled into
// the binary. A configuration directory given to gaol is laid over these
// files, a file there replacing the embedded file of the same name.
package defaults

import "embed"

// FS holds jail.conf, filter.d/ and action.d/, with paths relative to its
// root ("jail.conf", "filter.d/sshd.conf").
//
//go:embed jail.conf filter.d action.d
var FS embed.FS
