package transferqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"handoff/core/handoff"
	"handoff/core/transfer"
	"handoff/core/transferqueue"
)

type fakeSQS struct {
	in  []*sqs.SendMessageInput
	err error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.in = append(f.in, in)
	return &sqs.SendMessageOutput{}, f.err
}

func TestSendNamesTheGroupAndDeduplicationID(t *testing.T) {
	f := &fakeSQS{}
	q := transferqueue.New(f, "https://sqs.example/123/transfers.fifo")
	m := transfer.Message{TransferID: "tr-1", CallbackBase: "https://api.example", Group: "acme#koreai", DeduplicationID: "d1"}
	if err := q.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	in := f.in[0]
	if *in.QueueUrl != "https://sqs.example/123/transfers.fifo" || *in.MessageGroupId != "acme#koreai" || *in.MessageDeduplicationId != "d1" {
		t.Errorf("input %+v", in)
	}
	var got transfer.Message
	if err := json.Unmarshal([]byte(*in.MessageBody), &got); err != nil || got.TransferID != "tr-1" || got.CallbackBase != "https://api.example" {
		t.Errorf("body %s: %v", *in.MessageBody, err)
	}
	f.err = errors.New("down")
	if err := q.Send(context.Background(), m); handoff.ErrorCode(err) != handoff.CodeUnavailable {
		t.Errorf("a failed send = %v, want UNAVAILABLE", err)
	}
	if err := q.Send(context.Background(), transfer.Message{TransferID: "x"}); err == nil || len(f.in) != 2 {
		t.Errorf("a message without a group = %v, %d sends; want an error and no send", err, len(f.in))
	}
}
