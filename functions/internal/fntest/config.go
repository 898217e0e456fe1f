package fntest

import (
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/template"
)

// LocalParameters are the template parameters the functions' tests give their own values, as
// sam --parameter-overrides would: quiet logs, and a callback base no vendor reaches (the tests
// drive callbacks themselves, from what the sandbox was handed).
var LocalParameters = map[string]string{"LogLevel": "error", "CallbackBaseUrl": "http://127.0.0.1:9"}

// Template is template.yaml, read with LocalParameters.
func Template(t testing.TB) *template.Template {
	t.Helper()
	tmpl, err := template.Load(filepath.Join(Root(t), "template.yaml"), template.Options{Parameters: LocalParameters})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// Declared is the environment function's resource declares (Globals' variables and its own,
// parameters resolved), as a new map.
func Declared(t testing.TB, tmpl *template.Template, function string) map[string]string {
	t.Helper()
	for _, f := range tmpl.Functions {
		if f.LogicalID == function {
			vars := map[string]string{}
			for k, v := range f.Environment {
				vars[k] = v
			}
			return vars
		}
	}
	t.Fatalf("fntest: template.yaml has no function %s", function)
	return nil
}

// CheckConfig runs a function's configuration loader (its Main) with the environment its
// resource declares, through a getenv that records every name asked for. It fails t when the
// loader refuses that environment, or asks for a variable the resource does not declare and
// Lambda does not set (rie.Reserved): in Lambda such a variable is always empty.
//
// known lists undeclared variables the function is known to read still, so the suite stays
// green while the template is fixed; a known name that is declared after all fails t, so the
// exception goes once the template has it.
func CheckConfig(t testing.TB, function string, load func(getenv func(string) string) error, known ...string) {
	t.Helper()
	vars := Declared(t, Template(t), function)
	asked := map[string]bool{}
	getenv := func(name string) string {
		asked[name] = true
		return vars[name]
	}
	if err := load(getenv); err != nil {
		t.Errorf("%s refuses the environment template.yaml declares for it: %v", function, err)
	}
	names := make([]string, 0, len(asked))
	for name := range asked {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range Undeclared(vars, names) {
		if slices.Contains(known, name) {
			t.Logf("KNOWN: %s reads %s, which template.yaml does not declare for it", function, name)
			continue
		}
		t.Errorf("%s reads %s, which template.yaml does not declare for it: in Lambda it is always empty", function, name)
	}
	for _, name := range known {
		if _, declared := vars[name]; declared {
			t.Errorf("%s is declared for %s now: remove it from the known exceptions", name, function)
		}
	}
}

// Undeclared are the names, of those read, that are neither in declared nor Lambda's own.
func Undeclared(declared map[string]string, read []string) []string {
	var out []string
	for _, name := range read {
		if _, ok := declared[name]; !ok && !slices.Contains(rie.Reserved, name) {
			out = append(out, name)
		}
	}
	return out
}
