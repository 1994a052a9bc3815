package formula_test

import (
	"fmt"

	"github.com/gaol-project/gaol/internal/engine/formula"
)

func Example() {
	e, err := formula.Compile("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor")
	if err != nil {
		fmt.Println(err)
		return
	}
	for count := 1; count <= 3; count++ {
		secs, err := e.Eval(formula.Vars{Time: 600, Count: count, Factor: 1})
		fmt.Println(count, secs, err)
	}
	fmt.Println(e)

	_, err = formula.Compile("__import__('os').system('id')")
	fmt.Println(err != nil)
	// Output:
	// 1 1200 <nil>
	// 2 2400 <nil>
	// 3 4800 <nil>
	// ban.Time * (1 << (ban.Count if ban.Count < 20 else 20)) * banFactor
	// true
}
