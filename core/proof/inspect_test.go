package proof_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
)

// item is one raw DynamoDB item.
type item = map[string]types.AttributeValue

// scan reads the whole table, past the fault transport.
func (s *stack) scan() []item {
	s.t.Helper()
	var items []item
	pages := dynamodb.NewScanPaginator(s.raw, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			s.t.Fatalf("scanning the table: %v", err)
		}
		items = append(items, page.Items...)
	}
	return items
}

// snapshot is the table as one comparable string: every item, every attribute, sorted.
func (s *stack) snapshot() string {
	var lines []string
	for _, it := range s.scan() {
		lines = append(lines, awstest.ItemString(it))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func str(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// transfers returns every transfer item, decoded.
func (s *stack) transfers() []handoff.Transfer {
	s.t.Helper()
	var out []handoff.Transfer
	for _, it := range s.scan() {
		if str(it, store.AttrKind) != store.KindTransfer {
			continue
		}
		var t handoff.Transfer
		if err := json.Unmarshal([]byte(str(it, store.AttrDoc)), &t); err != nil {
			s.t.Fatalf("transfer item does not decode: %v", err)
		}
		out = append(out, t)
	}
	return out
}

// only returns the one transfer the table holds, failing when there are more or none.
func (s *stack) only() handoff.Transfer {
	s.t.Helper()
	ts := s.transfers()
	if len(ts) != 1 {
		s.t.Fatalf("the table holds %d transfers, want exactly 1", len(ts))
	}
	return ts[0]
}

// idemRecord is an idempotency record's state: in_progress, completed, released, or "" when there
// is none; ambiguous and whether its lease is still held (by the store's clock).
type idemRecord struct {
	status    string
	ambiguous bool
	leased    bool
}

func (s *stack) idem(key string) idemRecord {
	s.t.Helper()
	for _, it := range s.scan() {
		if str(it, store.AttrKind) != store.KindTransfer || str(it, store.AttrTenant) != tenant || str(it, store.AttrIdemKey) != key {
			continue
		}
		r := idemRecord{status: str(it, store.AttrClaim)}
		if b, ok := it[store.AttrAmbiguous].(*types.AttributeValueMemberBOOL); ok {
			r.ambiguous = b.Value
		}
		if n, ok := it[store.AttrLeaseUntil].(*types.AttributeValueMemberN); ok {
			var ms int64
			_ = json.Unmarshal([]byte(n.Value), &ms)
			r.leased = time.UnixMilli(ms).After(s.clock.Now())
		}
		return r
	}
	return idemRecord{}
}

// streamRecord is the stream record bot-ack receives when transfer id changed.
func streamRecord(id string, seq int) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{
		EventName: "MODIFY",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: fmt.Sprintf("%021d", seq),
			Keys: map[string]events.DynamoDBAttributeValue{
				"pk": events.NewStringAttribute("TRANSFER#" + id), "sk": events.NewStringAttribute("TRANSFER"),
			},
		},
	}
}

// deliverStream hands bot-ack one batch with a record of transfer id, as the stream would, and
// returns how many records it asked to get again.
func (s *stack) deliverStream(id string) int {
	s.t.Helper()
	return s.deliverStreamTo(s.container, id)
}

func (s *stack) deliverStreamTo(c *container, id string) int {
	s.t.Helper()
	resp, err := c.stream.Batch(s.ctx(30*time.Second), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{streamRecord(id, 1)}})
	if err != nil {
		s.t.Fatalf("bot-ack returned an error for a batch: %v", err)
	}
	return len(resp.BatchItemFailures)
}

// credentials are every secret value of the tenant: none may reach an answer or a log line.
func (s *stack) credentials() []string {
	var out []string
	add := func(raw []byte, fields ...string) {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for _, f := range fields {
			if v, ok := m[f].(string); ok && len(v) >= 8 {
				out = append(out, v)
			}
		}
	}
	hook := bitrix24sandbox.DemoWebhookSecret(s.b24.URL())
	add(hook, "botClientId", "applicationToken")
	var w struct {
		WebhookURL string `json:"webhookUrl"`
	}
	_ = json.Unmarshal(hook, &w)
	if u, err := url.Parse(w.WebhookURL); err == nil {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		out = append(out, parts[len(parts)-1]) // the webhook's code
	}
	add(livepersonsandbox.DemoSecret(s.lp.URL()), "password")
	add(koreaisandbox.DemoSecret(s.kore.URL()), "clientSecret", "callbackSecret")
	var sf struct {
		PrivateKey string `json:"privateKey"`
	}
	_ = json.Unmarshal(salesforcesandbox.DemoSecret(s.sf.URL()), &sf)
	if lines := strings.Split(strings.TrimSpace(sf.PrivateKey), "\n"); len(lines) > 2 {
		out = append(out, lines[1]) // a line of the key's body
	}
	add(webhooksandbox.DemoSecret(s.hook.URL()), "signingSecret")
	return out
}

// checkLogs fails the test when a credential reached a log line.
func (s *stack) checkLogs() {
	logs := s.logs.String()
	for _, c := range s.credentials() {
		if strings.Contains(logs, c) {
			s.t.Errorf("a credential (%.6s…) reached the logs", c)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
