package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/template"
)

// TestColdStartRunsUnderTheEmulator: one cold start of skill-check, built as the benchmark
// builds it, answers through the emulator; with its configuration broken, the benchmark fails
// with the function's own init error.
func TestColdStartRunsUnderTheEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmpl, err := template.Load("../../template.yaml", template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var f template.Function
	for _, fn := range tmpl.Functions {
		if fn.Name == "skill-check" {
			f = fn
		}
	}
	bin := filepath.Join(t.TempDir(), "skill-check", "bootstrap")
	if err := lambdaBuild(ctx, bin, "../../functions/skill-check"); err != nil {
		t.Fatal(err)
	}
	emulator, err := rie.Locate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	took, err := coldStart(ctx, emulator, f, bin, []byte(firstEvent["skill-check"]))
	if err != nil || took <= 0 {
		t.Fatalf("coldStart = %v, %v", took, err)
	}

	delete(f.Environment, "TABLE_NAME")
	_, err = coldStart(ctx, emulator, f, bin, []byte(firstEvent["skill-check"]))
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME is not set") {
		t.Errorf("coldStart without TABLE_NAME = %v, want the init error naming it", err)
	}
}
