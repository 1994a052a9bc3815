// Package conformance checks gaol's filters against fail2ban's own test
// samples.
//
// Its test fetches Debian's fail2ban package (apt-get download, dpkg -x)
// into the git-ignored .cache/fail2ban at the root of the repository,
// loads every stock filter from the extracted /etc/fail2ban with package
// config (the real loader), and evaluates every "# failJSON:" annotation of
// fail2ban's sample logs the way fail2ban's samplestestcase.py does. It
// prints a table per filter and fails below 99% of checks passing.
//
// fail2ban is GPL: nothing of it is copied into this repository; the test
// reads the cache at run time.
package conformance
