// Package iampolicy reads what each function of template.yaml may do in AWS, as IAM will see it
// once deployed: the template is expanded by the SAM translator (so policy templates and the
// policies SAM adds for event sources and destinations are there), its intrinsic functions are
// resolved for a fixed account, region and stack name, and each function's role becomes a list
// of statements that can be asked whether they allow an action on a resource, with IAM's
// wildcard rules.
//
// It backs the permission test: the end-to-end suite records every AWS call each function makes
// (scripts/localstack/awsproxy), and Check tells which of them the deployed role would refuse,
// and which grants no call used.
package iampolicy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed expand.py
var expandScript []byte

// Options are the values a deployment would give the template.
type Options struct {
	// Parameters override the parameters' defaults, as sam deploy --parameter-overrides does.
	Parameters map[string]string
	Region     string // default us-east-1
	AccountID  string // default 123456789012
	StackName  string // default handoff-local, as the local stack names it
}

func (o Options) withDefaults() Options {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.StackName == "" {
		o.StackName = "handoff-local"
	}
	return o
}

// Stack is the expanded template's functions with their roles' statements.
type Stack struct {
	Functions map[string]*Function // by logical ID
	opts      Options
}

// Function is one Lambda function and what its role allows.
type Function struct {
	LogicalID string
	Role      string // the role's logical ID
	Policy    Policy
	// ServiceCalls are the calls Lambda itself makes with the function's role: reading a
	// DynamoDB stream for an event source mapping, sending to an OnFailure destination.
	ServiceCalls []Call
}

// Call is one AWS API operation on one resource, made by a function (or by Lambda for it).
type Call struct {
	Function string // logical ID
	Action   string // service:Operation, e.g. dynamodb:PutItem
	Resource string // the ARN IAM authorises the action on
}

func (c Call) String() string { return c.Function + " " + c.Action + " on " + c.Resource }

// Load expands the SAM template at path with python3 and aws-sam-translator, and resolves it.
func Load(path string, opts Options) (*Stack, error) {
	expanded, err := Expand(path, opts.Parameters)
	if err != nil {
		return nil, err
	}
	return Resolve(expanded, opts)
}

// Expand runs the SAM transform on the template at path and returns the CloudFormation
// template it gives, as JSON, intrinsic functions unresolved.
func Expand(path string, params map[string]string) ([]byte, error) {
	args := []string{"-", path}
	for _, name := range sortedKeys(params) {
		args = append(args, name+"="+params[name])
	}
	cmd := exec.Command(samPython(path), args...)
	cmd.Stdin = bytes.NewReader(expandScript)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("expanding %s with aws-sam-translator (pip install cfn-lint brings it): %v\n%s", path, err, stderr.String())
	}
	return out, nil
}

// samPython is the Python that has aws-sam-translator: python3 on PATH when it has it, else the
// project's own .local/venv beside the template (where scripts/tools.sh installs cfn-lint, and
// aws-sam-translator with it, on a machine that lacked them).
func samPython(template string) string {
	venv := filepath.Join(filepath.Dir(template), ".local", "venv", "bin", "python3")
	for _, py := range []string{"python3", venv} {
		if exec.Command(py, "-c", "import samtranslator").Run() == nil {
			return py
		}
	}
	return "python3" // its error names what is missing
}

// Resolve reads an expanded template (CloudFormation JSON).
func Resolve(expanded []byte, opts Options) (*Stack, error) {
	opts = opts.withDefaults()
	var doc map[string]any
	if err := json.Unmarshal(expanded, &doc); err != nil {
		return nil, fmt.Errorf("expanded template: %w", err)
	}
	r, err := newResolver(doc, opts)
	if err != nil {
		return nil, err
	}
	s := &Stack{Functions: map[string]*Function{}, opts: opts}
	ids, err := r.ids()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		res := r.resources[id]
		if res.kind != "AWS::Lambda::Function" {
			continue
		}
		f, err := r.function(id, res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		s.Functions[id] = f
	}
	if err := r.rolePolicies(s, ids); err != nil {
		return nil, err
	}
	if err := r.serviceCalls(s, ids); err != nil {
		return nil, err
	}
	return s, nil
}

// Grant is one action on one resource pattern that a function's own policy allows.
type Grant struct {
	Function, Action, Resource string
}

func (g Grant) String() string { return g.Function + " " + g.Action + " on " + g.Resource }

// Report is what Check found.
type Report struct {
	// Denied are the calls the function's role would not allow.
	Denied []Call
	// Unknown are calls by no function of the stack.
	Unknown []Call
	// Unused are grants of the functions' own policies (not AWS managed ones) that no call, nor
	// Lambda on the function's behalf, used.
	Unused []Grant
}

// Check holds the calls, and Lambda's own calls for each function, against the functions'
// policies.
func (s *Stack) Check(calls []Call) Report {
	var rep Report
	all := append([]Call(nil), calls...)
	for _, id := range sortedKeys(s.Functions) {
		all = append(all, s.Functions[id].ServiceCalls...)
	}
	used := map[Grant]bool{}
	seen := map[Call]bool{}
	for _, c := range all {
		if seen[c] {
			continue
		}
		seen[c] = true
		f, ok := s.Functions[c.Function]
		if !ok {
			rep.Unknown = append(rep.Unknown, c)
			continue
		}
		if !f.Policy.Allows(c.Action, c.Resource) {
			rep.Denied = append(rep.Denied, c)
			continue
		}
		for _, st := range f.Policy {
			if st.Managed || st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Actions {
				for _, res := range st.Resources {
					if globMatch(strings.ToLower(a), strings.ToLower(c.Action)) && resourceMatch(res, c.Resource) {
						used[Grant{c.Function, a, res}] = true
					}
				}
			}
		}
	}
	for _, id := range sortedKeys(s.Functions) {
		for _, st := range s.Functions[id].Policy {
			if st.Managed || st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Actions {
				for _, res := range st.Resources {
					if g := (Grant{id, a, res}); !used[g] {
						rep.Unused = append(rep.Unused, g)
					}
				}
			}
		}
	}
	return rep
}

// Without returns a copy of the stack in which function's policy no longer grants action on
// any resource: what the template would be with that action removed.
func (s *Stack) Without(function, action string) *Stack {
	out := &Stack{Functions: map[string]*Function{}, opts: s.opts}
	for id, f := range s.Functions {
		copied := *f
		if id == function {
			copied.Policy = nil
			for _, st := range f.Policy {
				st.Actions = without(st.Actions, action)
				if len(st.Actions) > 0 {
					copied.Policy = append(copied.Policy, st)
				}
			}
		}
		out.Functions[id] = &copied
	}
	return out
}

func without(list []string, item string) []string {
	var out []string
	for _, v := range list {
		if !strings.EqualFold(v, item) {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
