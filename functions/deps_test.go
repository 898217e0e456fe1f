// Package functions_test checks what the function binaries link: no vendor sandbox, no fault
// kit, no sandbox registry, no test support and no demo key. The sandboxes live in their own
// packages (core/vendors/<vendor>/<vendor>sandbox, core/vendors/sandbox, core/vendors/sandboxes)
// so that this holds; docs/adding-a-vendor.md says where a new vendor's go.
package functions_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dependency is one package a function links, as `go list -deps` names it.
type dependency struct {
	ImportPath string
	Dir        string
	GoFiles    []string
}

// forbidden reports why a function must not link this package, or "" when it may. Only the
// module's own packages are judged: a sandbox package is any whose last path element ends in
// "sandbox" (each vendor's sandbox, the fault kit) or is "sandboxes" (the registry).
func forbidden(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, "handoff/")
	if !ok {
		return ""
	}
	elems := strings.Split(rest, "/")
	last := elems[len(elems)-1]
	switch {
	case strings.HasSuffix(last, "sandbox") || last == "sandboxes":
		return "a vendor sandbox"
	case last == "vendortest" || last == "fntest" || elems[0] == "scripts":
		return "test or local-stack support"
	}
	return ""
}

// keyLiteral is a PEM private key with its body: a demo key compiled in.
var keyLiteral = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----\s*(\\n)?[A-Za-z0-9+/]{40}`)

// violations lists what is wrong with one function's dependencies.
func violations(deps []dependency) []string {
	var out []string
	for _, d := range deps {
		if why := forbidden(d.ImportPath); why != "" {
			out = append(out, d.ImportPath+": "+why)
			continue
		}
		if !strings.HasPrefix(d.ImportPath, "handoff/") {
			continue
		}
		for _, f := range d.GoFiles {
			src, err := os.ReadFile(filepath.Join(d.Dir, f))
			if err == nil && keyLiteral.Match(src) {
				out = append(out, d.ImportPath+": "+f+" holds a private key")
			}
		}
	}
	return out
}

// listDeps is `go list -deps` of one function's main, built as for Lambda.
func listDeps(t *testing.T, pkg string) []dependency {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc",
		"-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	var deps []dependency
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, "\t")
		d := dependency{ImportPath: fields[0], Dir: fields[1]}
		if fields[2] != "" {
			d.GoFiles = strings.Split(fields[2], ",")
		}
		deps = append(deps, d)
	}
	return deps
}

func TestNoFunctionLinksASandbox(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	mains, err := filepath.Glob("*/main.go")
	if err != nil || len(mains) < 4 {
		t.Fatalf("function mains %v (%v), want the four", mains, err)
	}
	for _, main := range mains {
		pkg := "./" + filepath.Dir(main)
		t.Run(filepath.Dir(main), func(t *testing.T) {
			deps := listDeps(t, pkg)
			if len(deps) < 50 || !contains(deps, "handoff/core/vendors/all") {
				t.Fatalf("%d dependencies without core/vendors/all: not the list of a function", len(deps))
			}
			for _, v := range violations(deps) {
				t.Errorf("%s links %s", pkg, v)
			}
		})
	}
}

// The check must catch what it is for: the same function over a list with a sandbox, the fault
// kit, the registry, and a package holding a key.
func TestTheCheckCatchesASandbox(t *testing.T) {
	keyDir := t.TempDir()
	key := "package demokey\n\nconst Key = `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----`\n"
	if err := os.WriteFile(filepath.Join(keyDir, "key.go"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	deps := []dependency{
		{ImportPath: "handoff/core/handoff"},
		{ImportPath: "github.com/aws/aws-lambda-go/lambda"},
		{ImportPath: "handoff/core/vendors/salesforce/salesforcesandbox"},
		{ImportPath: "handoff/core/vendors/sandbox"},
		{ImportPath: "handoff/core/vendors/sandboxes"},
		{ImportPath: "handoff/core/vendors/vendortest"},
		{ImportPath: "handoff/scripts/localstack/demo"},
		{ImportPath: "handoff/core/vendors/acme", Dir: keyDir, GoFiles: []string{"key.go"}},
	}
	got := violations(deps)
	if len(got) != 6 {
		t.Fatalf("violations = %q, want the 6 forbidden packages", got)
	}
	if clean := violations(deps[:2]); len(clean) != 0 {
		t.Errorf("a clean list reported %q", clean)
	}
}

func contains(deps []dependency, path string) bool {
	for _, d := range deps {
		if d.ImportPath == path {
			return true
		}
	}
	return false
}
