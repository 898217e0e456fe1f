package infra_test

import (
	"bytes"
	"errors"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoDir is the repository root, seen from this package's directory.
const repoDir = ".."

// outsideFiles matches citations of the design notes that were kept beside the repository and
// never in it. What users and contributors need of them is in docs/; cite that instead. The
// pattern is built from parts so that this file does not cite them itself.
var outsideFiles = regexp.MustCompile(`\b(` + strings.Join([]string{"DESIGN", "VENDORS", "STYLE"}, "|") + `)\.md\b|\.\./` + "shared")

// repoPath matches a path into one of the repository's top-level directories, as comments and
// documents name them (core/store, docs/api.md, functions/transfer/main.go). It must not follow
// a word character, '.', '/' or '-', so URLs and import paths (handoff/core/…) and paths inside
// other repositories (owner/repo/docs/…) are not taken for ours.
var repoPath = regexp.MustCompile(`(?:^|[^\w./-])((?:core|docs|functions|scripts|infra|events)/[\w./-]*)`)

// mdLink matches the target of a Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// mentionedNotPresent are paths named on purpose although they do not exist, with the reason.
var mentionedNotPresent = map[string]string{
	"core/vendor": "the README explains why the vendors live in core/vendors and not core/vendor",
}

// TestNothingCitesFilesOutsideTheRepository fails when a tracked file cites the design notes
// kept outside the repository, or names a repository path (in a Go, YAML or shell comment, or
// anywhere in a Markdown file) or links a file that does not exist: a reader must be able to
// open everything the code and the docs point to.
func TestNothingCitesFilesOutsideTheRepository(t *testing.T) {
	files := trackedFiles(t)
	if len(files) < 50 {
		t.Fatalf("found only %d files under %s: is this the repository?", len(files), repoDir)
	}
	present := map[string]bool{}
	for _, f := range files {
		for p := f; p != "." && p != "/"; p = path.Dir(p) {
			present[p] = true
		}
	}
	checked := 0
	for _, f := range files {
		body, err := os.ReadFile(filepath.Join(repoDir, filepath.FromSlash(f)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(body, 0) >= 0 {
			continue // binary
		}
		for _, m := range outsideFiles.FindAllString(string(body), -1) {
			t.Errorf("%s cites %s, which is not in the repository: cite docs/ instead", f, m)
		}
		text, ok := citingText(f, body)
		if !ok {
			continue
		}
		checked++
		for _, m := range repoPath.FindAllStringSubmatch(text, -1) {
			p := strings.TrimRight(m[1], "./")
			if !present[p] {
				p = withoutIdentifier(p)
			}
			if p == "" || present[p] || mentionedNotPresent[p] != "" {
				continue
			}
			t.Errorf("%s names %s, which is not in the repository", f, p)
		}
		if strings.HasSuffix(f, ".md") {
			for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
				if p, local := linkedPath(f, m[1]); local && !present[p] {
					t.Errorf("%s links %s, which is not in the repository", f, m[1])
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go, Markdown or YAML file was read")
	}
}

// trackedFiles lists the repository's files as git tracks them (so ignored build output and
// virtual environments are not read), slash-separated and relative to the root. Without git
// (a source archive), it walks the tree, skipping hidden directories.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repoDir
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files
	}
	t.Log("git is not available: walking the tree instead")
	var files []string
	err := filepath.WalkDir(repoDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != repoDir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(repoDir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// citingText is the part of a file where a path is a citation: the comments of Go, YAML, shell
// and Makefile sources (code may build paths that need not exist yet), all of a Markdown file.
func citingText(name string, body []byte) (string, bool) {
	switch ext := path.Ext(name); {
	case ext == ".md":
		return string(body), true
	case ext == ".go":
		return goComments(body), true
	case ext == ".yaml" || ext == ".yml" || ext == ".sh" || ext == ".toml" || path.Base(name) == "Makefile":
		return hashComments(string(body)), true
	}
	return "", false
}

// goComments returns the text of every comment in a Go source file.
func goComments(src []byte) string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", fset.Base(), len(src)), src, nil, scanner.ScanComments)
	var b strings.Builder
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return b.String()
		}
		if tok == token.COMMENT {
			b.WriteString(lit)
			b.WriteByte('\n')
		}
	}
}

// hashComments returns what follows '#' on each line that has a comment: a '#' at the start of
// the line or after white space, so "a#b" inside a value is not taken for one.
func hashComments(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		for i := 0; i < len(line); i++ {
			if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
				b.WriteString(line[i+1:])
				b.WriteByte('\n')
				break
			}
		}
	}
	return b.String()
}

// withoutIdentifier drops a Go identifier named after a package path: core/store.New is the
// package core/store.
func withoutIdentifier(p string) string {
	dir, last := path.Split(p)
	if i := strings.IndexByte(last, '.'); i > 0 && i+1 < len(last) && last[i+1] >= 'A' && last[i+1] <= 'Z' {
		return dir + last[:i]
	}
	return p
}

// linkedPath resolves a Markdown link target against the linking file; local is false for
// URLs and in-page anchors.
func linkedPath(from, target string) (p string, local bool) {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
		return "", false
	}
	target, _, _ = strings.Cut(target, "#")
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/"), true
	}
	return path.Clean(path.Join(path.Dir(from), target)), true
}
