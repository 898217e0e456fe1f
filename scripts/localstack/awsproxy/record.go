package awsproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Call is one AWS operation on one resource, as IAM authorises it.
type Call struct {
	// Principal is the access key ID the request was signed with: the local stack gives each
	// function its logical ID as its key, so it names the function.
	Principal string
	Action    string // service:Operation, e.g. dynamodb:PutItem
	Resource  string // the ARN IAM checks the action on ("*" for operations on none)
}

// SecretSuffix stands for the six random characters Secrets Manager appends to a secret's
// name in its ARN ("-" included), which a policy's resource must cover. A secret named rather
// than given by ARN is recorded with it.
const SecretSuffix = "-AbCdEf"

// Recorder records the calls of the requests it sees. Its zero value records for the local
// account 123456789012 in the region each request is signed for.
type Recorder struct {
	AccountID string

	mu       sync.Mutex
	calls    []Call
	problems []string
}

// Wrap records each request, then passes it on to next.
func (rec *Recorder) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		calls, err := rec.parse(r, body)
		rec.mu.Lock()
		rec.calls = append(rec.calls, calls...)
		if err != nil {
			rec.problems = append(rec.problems, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
		}
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Calls returns what was recorded so far, in order.
func (rec *Recorder) Calls() []Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Call(nil), rec.calls...)
}

// Problems are the requests whose call could not be told (unsigned, unreadable).
func (rec *Recorder) Problems() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.problems...)
}

// request is what every AWS request carries: who signed it, for which region and service, and
// which operation it is.
type request struct {
	principal, region, service, operation string
	body                                  []byte
	form                                  url.Values // the Query protocol's parameters
	account                               string
}

func (rec *Recorder) parse(r *http.Request, body []byte) ([]Call, error) {
	q := request{body: body, account: rec.AccountID}
	if q.account == "" {
		q.account = "123456789012"
	}
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/") // AKID/date/region/service/aws4_request
	if !ok || len(scope) != 5 {
		return nil, fmt.Errorf("not signed with SigV4 (Authorization %q)", auth)
	}
	q.principal, q.region, q.service = scope[0], scope[2], scope[3]
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		q.operation = target[strings.LastIndex(target, ".")+1:]
	} else {
		q.form = r.URL.Query()
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, err
			}
			for k, v := range form {
				q.form[k] = v
			}
		}
		q.operation = q.form.Get("Action")
	}
	if q.operation == "" {
		return nil, fmt.Errorf("%s request with no X-Amz-Target and no Action", q.service)
	}
	resources, err := q.resources()
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", q.service, q.operation, err)
	}
	calls := make([]Call, len(resources))
	for i, res := range resources {
		calls[i] = Call{Principal: q.principal, Action: res.action, Resource: res.arn}
	}
	return calls, nil
}

type target struct{ action, arn string }

func (q request) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + q.region + ":" + q.account + ":" + resource
}

// resources lists the (action, resource) pairs IAM authorises the request as.
func (q request) resources() ([]target, error) {
	action := q.service + ":" + q.operation
	var in map[string]json.RawMessage
	if q.form == nil && len(q.body) > 0 {
		if err := json.Unmarshal(q.body, &in); err != nil {
			return nil, fmt.Errorf("the body is not JSON: %v", err)
		}
	}
	text := func(key string) string {
		if q.form != nil {
			return q.form.Get(key)
		}
		var s string
		json.Unmarshal(in[key], &s)
		return s
	}
	switch q.service {
	case "dynamodb":
		return q.dynamoDB(in, text)
	case "secretsmanager":
		id := text("SecretId")
		if id == "" {
			id = text("Name")
		}
		if id == "" {
			return []target{{action, "*"}}, nil
		}
		if !strings.HasPrefix(id, "arn:") {
			id = q.arn("secretsmanager", "secret:"+id+SecretSuffix)
		}
		return []target{{action, id}}, nil
	case "events":
		return q.events(action, in)
	case "sqs":
		if u := text("QueueUrl"); u != "" {
			return []target{{action, q.arn("sqs", u[strings.LastIndex(u, "/")+1:])}}, nil
		}
	}
	return []target{{action, "*"}}, nil
}

// dynamoDB: a transaction is authorised item by item, as the action on that item (PutItem,
// UpdateItem, DeleteItem, ConditionCheckItem, GetItem) on its table; a query of an index on
// the index's ARN.
func (q request) dynamoDB(in map[string]json.RawMessage, text func(string) string) ([]target, error) {
	table := func(name string) string { return q.arn("dynamodb", "table/"+name) }
	switch q.operation {
	case "TransactWriteItems", "TransactGetItems":
		var items []map[string]struct{ TableName string }
		if err := json.Unmarshal(in["TransactItems"], &items); err != nil {
			return nil, fmt.Errorf("TransactItems: %v", err)
		}
		perItem := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
		var out []target
		for _, item := range items {
			for kind, op := range item {
				if perItem[kind] == "" {
					return nil, fmt.Errorf("unknown transaction item %q", kind)
				}
				out = append(out, target{"dynamodb:" + perItem[kind], table(op.TableName)})
			}
		}
		return out, nil
	case "BatchWriteItem", "BatchGetItem":
		// IAM checks the batch action itself on each table it touches.
		var tables map[string]json.RawMessage
		if err := json.Unmarshal(in["RequestItems"], &tables); err != nil {
			return nil, fmt.Errorf("RequestItems: %v", err)
		}
		var out []target
		for name := range tables {
			out = append(out, target{"dynamodb:" + q.operation, table(name)})
		}
		return out, nil
	}
	action := "dynamodb:" + q.operation
	if arn := text("StreamArn"); arn != "" {
		return []target{{action, arn}}, nil
	}
	name := text("TableName")
	if name == "" {
		return []target{{action, "*"}}, nil
	}
	if strings.HasPrefix(name, "arn:") {
		name = name[strings.Index(name, ":table/")+len(":table/"):]
	}
	if index := text("IndexName"); index != "" {
		return []target{{action, table(name) + "/index/" + index}}, nil
	}
	return []target{{action, table(name)}}, nil
}

// events: PutEvents is authorised on each entry's bus (no name: the default bus).
func (q request) events(action string, in map[string]json.RawMessage) ([]target, error) {
	if q.operation != "PutEvents" {
		return []target{{action, "*"}}, nil
	}
	var entries []struct{ EventBusName string }
	if err := json.Unmarshal(in["Entries"], &entries); err != nil {
		return nil, fmt.Errorf("PutEvents entries: %v", err)
	}
	var out []target
	for _, e := range entries {
		bus := e.EventBusName
		switch {
		case bus == "":
			bus = q.arn("events", "event-bus/default")
		case !strings.HasPrefix(bus, "arn:"):
			bus = q.arn("events", "event-bus/"+bus)
		}
		out = append(out, target{action, bus})
	}
	return out, nil
}
