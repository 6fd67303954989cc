package grant

import "testing"

func TestConflicts(t *testing.T) {
	tests := map[string]struct {
		a, b Key
		want bool
	}{
		"conflicts on the same name and type":                {Key{"a.example.com", "A"}, Key{"a.example.com", "A"}, true},
		"does not conflict on different types at one name":   {Key{"a.example.com", "A"}, Key{"a.example.com", "TXT"}, false},
		"conflicts when a CNAME shares a name with anything": {Key{"a.example.com", "CNAME"}, Key{"a.example.com", "TXT"}, true},
		"conflicts when anything shares a name with a CNAME": {Key{"a.example.com", "MX"}, Key{"a.example.com", "CNAME"}, true},
		"does not conflict on a CNAME at another name":       {Key{"a.example.com", "CNAME"}, Key{"b.example.com", "CNAME"}, false},
		"does not conflict on a CNAME below another name":    {Key{"x.a.example.com", "CNAME"}, Key{"a.example.com", "A"}, false},
		"conflicts regardless of case and trailing dot":      {Key{"A.Example.com.", "TXT"}, Key{"a.example.com", "TXT"}, true},
		"does not treat a wildcard as its instances":         {Key{"*.example.com", "A"}, Key{"a.example.com", "A"}, false},
		"conflicts when data sits beside a delegation":       {Key{"sub.example.com", "NS"}, Key{"sub.example.com", "A"}, true},
		"conflicts when data sits below a delegation":        {Key{"sub.example.com", "NS"}, Key{"www.sub.example.com", "A"}, true},
		"conflicts when a delegation is claimed above data":  {Key{"x.y.sub.example.com", "TXT"}, Key{"sub.example.com", "NS"}, true},
		"does not conflict on a name that only ends alike":   {Key{"sub.example.com", "NS"}, Key{"notsub.example.com", "A"}, false},
		"does not conflict on data above a delegation":       {Key{"sub.example.com", "NS"}, Key{"example.com", "A"}, false},
		"conflicts on two delegations of one name":           {Key{"sub.example.com", "NS"}, Key{"sub.example.com", "NS"}, true},
		"conflicts on a delegation below another delegation": {Key{"sub.example.com", "NS"}, Key{"a.sub.example.com", "NS"}, true},
		"conflicts on a wildcard below a delegation":         {Key{"sub.example.com", "NS"}, Key{"*.sub.example.com", "TXT"}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Conflicts(tc.a, tc.b); got != tc.want {
				t.Fatalf("Conflicts(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := Conflicts(tc.b, tc.a); got != tc.want {
				t.Fatalf("Conflicts is not symmetric for %v, %v", tc.a, tc.b)
			}
		})
	}
}
