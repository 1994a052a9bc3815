package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/engine"
)

func TestEngine(t *testing.T) {
	j := &config.Jail{
		Name: "sshd", MaxRetry: 3, FindTime: time.Minute, BanTime: -1, BanPrefix4: 32, BanPrefix6: 64,
		Windows:   []config.Window{{MaxRetry: 20, FindTime: time.Hour}},
		Increment: &config.Increment{Factor: 2, Formula: config.Expr{Src: "ban.Time * (ban.Count + 1)"}, MaxTime: time.Hour},
		Subnet:    &config.Subnet{Count: 3, Window: time.Hour, Bits4: 24, Bits6: 48},
		Recidive:  true,
	}
	ec, err := Engine(j, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ec.BanTime != engine.Permanent || ec.Prefix6 != 64 || len(ec.Windows) != 1 || ec.Windows[0].MaxRetry != 20 ||
		ec.Subnet.Count != 3 || !ec.Recidive || ec.Increment.Factor != 2 || ec.Increment.MaxTime != time.Hour {
		t.Fatalf("%+v", ec)
	}
	if got, err := ec.Increment.Formula(60, 2, 1); err != nil || got != 180 {
		t.Fatalf("formula: %v %v", got, err)
	}
	j.Increment.Formula = config.Expr{Src: "import os"}
	if _, err := Engine(j, nil); err == nil || !strings.Contains(err.Error(), "bantime.formula") {
		t.Fatalf("bad formula: %v", err)
	}
}
