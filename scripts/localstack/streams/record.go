package streams

import (
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// record is a stream record in Lambda's event format, with its JSON for filtering.
type record struct {
	event events.DynamoDBEventRecord
	json  []byte
	at    time.Time // ApproximateCreationDateTime, for MaxRecordAge
}

func (r record) sequenceNumber() string { return r.event.Change.SequenceNumber }

// lambdaRecord turns a DynamoDB Streams record into the record Lambda puts in a DynamoDBEvent.
func lambdaRecord(r types.Record, streamARN, region string) record {
	out := events.DynamoDBEventRecord{
		AWSRegion:      firstNonEmpty(aws.ToString(r.AwsRegion), region),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    firstNonEmpty(aws.ToString(r.EventSource), "aws:dynamodb"),
		EventVersion:   firstNonEmpty(aws.ToString(r.EventVersion), "1.1"),
		EventSourceArn: streamARN,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	var at time.Time
	if c := r.Dynamodb; c != nil {
		if c.ApproximateCreationDateTime != nil {
			// Lambda sends whole seconds.
			at = time.Unix(c.ApproximateCreationDateTime.Unix(), 0)
		}
		out.Change = events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys:                        attributes(c.Keys),
			NewImage:                    attributes(c.NewImage),
			OldImage:                    attributes(c.OldImage),
			SequenceNumber:              aws.ToString(c.SequenceNumber),
			SizeBytes:                   aws.ToInt64(c.SizeBytes),
			StreamViewType:              string(c.StreamViewType),
		}
	}
	data, _ := json.Marshal(out)
	return record{event: out, json: data, at: at}
}

// attributes converts an item's attributes; nil stays nil, so an absent image is left out.
func attributes(in map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if in == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(in))
	for name, v := range in {
		out[name] = attribute(v)
	}
	return out
}

func attribute(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, item := range v.Value {
			list[i] = attribute(item)
		}
		return events.NewListAttribute(list)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(attributes(v.Value))
	}
	return events.NewNullAttribute()
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
