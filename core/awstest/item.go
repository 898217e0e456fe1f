package awstest

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ItemString is a DynamoDB item as one comparable line: every attribute as name=value, sorted
// by name, so two items (or a table's snapshots) compare as strings.
func ItemString(it map[string]types.AttributeValue) string {
	attrs := make([]string, 0, len(it))
	for k, v := range it {
		attrs = append(attrs, k+"="+valueString(v))
	}
	slices.Sort(attrs)
	return strings.Join(attrs, " ")
}

func valueString(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return "BOOL:true"
		}
		return "BOOL:false"
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = valueString(e)
		}
		return "L:[" + strings.Join(parts, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return "?" + string(b)
}
