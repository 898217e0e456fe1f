package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"handoff/scripts/localstack/template"
)

// Build compiles each function of the template into dir/<name>/bootstrap, as the Makefile's
// build-<LogicalId> targets do for Lambda (static, lambda.norpc, trimmed) but for this machine's
// OS and architecture, so the very code Lambda runs runs here. It returns the binaries by
// logical ID.
func Build(ctx context.Context, tmpl *template.Template, dir string) (map[string]string, error) {
	binaries := map[string]string{}
	errs := make([]error, len(tmpl.Functions))
	var wg sync.WaitGroup
	for i, f := range tmpl.Functions {
		out, err := filepath.Abs(filepath.Join(dir, f.Name, "bootstrap"))
		if err != nil {
			return nil, err
		}
		binaries[f.LogicalID] = out
		wg.Go(func() { errs[i] = build(ctx, tmpl.Dir, f, out) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return binaries, nil
}

func build(ctx context.Context, templateDir string, f template.Function, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./"+filepath.ToSlash(filepath.Clean(f.SourceDir)))
	cmd.Dir = templateDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s from %s: %w\n%s", f.LogicalID, f.SourceDir, err, output.Bytes())
	}
	return nil
}
