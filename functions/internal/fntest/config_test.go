package fntest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"handoff/functions/internal/fntest"
)

// recorder is a testing.TB that keeps the errors CheckConfig reports instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Logf(string, ...any) {}

func TestUndeclaredLeavesOutDeclaredAndLambdasOwn(t *testing.T) {
	got := fntest.Undeclared(map[string]string{"TABLE_NAME": "t"}, []string{"AWS_REGION", "NOT_DECLARED", "TABLE_NAME", "_HANDLER"})
	if !reflect.DeepEqual(got, []string{"NOT_DECLARED"}) {
		t.Errorf("Undeclared = %v", got)
	}
}

func TestCheckConfig(t *testing.T) {
	reads := func(names ...string) func(func(string) string) error {
		return func(getenv func(string) string) error {
			for _, name := range names {
				getenv(name)
			}
			return nil
		}
	}
	cases := []struct {
		name  string
		load  func(func(string) string) error
		known []string
		want  string // in the one error; empty for none
	}{
		{"declared and reserved", reads("TABLE_NAME", "SECRET_PREFIX", "AWS_REGION"), nil, ""},
		{"undeclared", reads("TABLE_NAME", "HANDOFF_NOT_DECLARED"), nil, "reads HANDOFF_NOT_DECLARED"},
		{"known undeclared", reads("HANDOFF_NOT_DECLARED"), []string{"HANDOFF_NOT_DECLARED"}, ""},
		{"known but declared", reads("TABLE_NAME"), []string{"TABLE_NAME"}, "remove it from the known"},
		{"refused", func(func(string) string) error { return fmt.Errorf("bad") }, nil, "refuses the environment"},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		fntest.CheckConfig(r, "SkillCheckFunction", c.load, c.known...)
		switch {
		case c.want == "" && len(r.errors) > 0:
			t.Errorf("%s: errors %q, want none", c.name, r.errors)
		case c.want != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], c.want)):
			t.Errorf("%s: errors %q, want one with %q", c.name, r.errors, c.want)
		}
	}
}
