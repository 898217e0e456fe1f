package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	"handoff/scripts/localstack/template"
)

// Build compiles each function of the template into dir/<name>/bootstrap, as the Makefile's
// build-<LogicalId> targets do for Lambda (static, lambda.norpc, trimmed) but for this machine's
// OS and architecture, so the very code Lambda runs runs here. It returns the binaries by
// logical ID. One go build compiles them all, so the packages they share compile once: on a
// cold cache that is several times faster than a build per function.
func Build(ctx context.Context, tmpl *template.Template, dir string) (map[string]string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if len(tmpl.Functions) == 0 {
		return map[string]string{}, nil
	}
	staging := filepath.Join(dir, ".build")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", staging + string(filepath.Separator)}
	seen := map[string]string{}
	for _, f := range tmpl.Functions {
		pkg := "./" + path.Clean(filepath.ToSlash(f.SourceDir))
		if other, ok := seen[path.Base(pkg)]; ok {
			return nil, fmt.Errorf("%s and %s have source directories of the same name, %s: go build would write one binary for both", other, f.LogicalID, path.Base(pkg))
		}
		seen[path.Base(pkg)] = f.LogicalID
		args = append(args, pkg)
	}
	if err := goBuild(ctx, tmpl.Dir, args); err != nil {
		return nil, err
	}
	return place(tmpl, staging, dir)
}

// goBuild runs go with args in dir, static (CGO_ENABLED=0) as for Lambda.
func goBuild(ctx context.Context, dir string, args []string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the functions: %w\n%s", err, output.Bytes())
	}
	return nil
}

// place moves each built binary to dir/<name>/bootstrap.
func place(tmpl *template.Template, staging, dir string) (map[string]string, error) {
	binaries := map[string]string{}
	for _, f := range tmpl.Functions {
		out := filepath.Join(dir, f.Name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(staging, filepath.Base(f.SourceDir)), out); err != nil {
			return nil, fmt.Errorf("placing %s's bootstrap: %w", f.LogicalID, err)
		}
		binaries[f.LogicalID] = out
	}
	return binaries, nil
}
