package main

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	in := "192.0.2.0,192.0.2.255,64500,\"Example,   Inc.\"\n2001:db8::,2001:db8::ffff,64501,Example B\n"
	got, err := parseCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ASN != 64500 || got[0].Org != "Example, Inc." || got[1].First.String() != "2001:db8::" {
		t.Errorf("parseCSV = %+v", got)
	}
	for _, bad := range []string{"192.0.2.0,192.0.2.255,x,Org\n", "nope,192.0.2.255,1,Org\n", "192.0.2.0,192.0.2.255,1\n"} {
		if _, err := parseCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("parseCSV(%q) succeeded", bad)
		}
	}
}

func TestVersionSource(t *testing.T) {
	src, err := versionSource("@ip-location-db/asn", "2.3.2026061719", "CC-BY-4.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `DataDate = "2026-06-17"`) {
		t.Errorf("no date in\n%s", src)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "v.go", src, 0); err != nil {
		t.Error(err)
	}
}
