package netnsrun_test

import (
	"errors"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/gaol-project/gaol/internal/netnsrun"
	"github.com/gaol-project/gaol/internal/netnstest"
)

func TestDo(t *testing.T) {
	ns := netnstest.New(t) // skips without root
	target, err := netns.GetFromPath(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	here, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	errFn := errors.New("fn's error")
	err = netnsrun.Do(target, func() error {
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		defer cur.Close()
		if !cur.Equal(target) || cur.Equal(here) {
			t.Error("fn does not run in the namespace")
		}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("Do: %v, want fn's error", err)
	}
	after, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !after.Equal(here) {
		t.Error("the caller's thread left its namespace")
	}
}
