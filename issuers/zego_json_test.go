package issuers

import (
	"encoding/json"
	"testing"
)

// zegoJSONCases are plaintexts whose strings need every kind of escaping
// encoding/json does (user and room ids are validated before they get
// here, but the encoder must not depend on it).
var zegoJSONCases = []struct {
	user, room string
	streams    []string
	publish    bool
}{
	{user: "alice"},
	{user: "3001", room: "arena-7", publish: true, streams: []string{"s1", "s2"}},
	{user: "a<b>&c", room: `r"1\`, streams: []string{}},
	{user: "峰\u2028\x00\x1f", room: "\xff", streams: []string{"<", ""}},
}

func TestZegoJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range zegoJSONCases {
		checkZegoJSON(t, c.user, c.room, c.streams, c.publish, 1234567890, -5, 1700000000, 1700003600)
	}
}

func checkZegoJSON(t *testing.T, user, room string, streams []string, publish bool, app uint32, nonce int32, ctime, expire int64) {
	t.Helper()
	p := zegoPayload{RoomID: room, Privilege: zegoPrivilege{Login: 1}, Streams: streams}
	if publish {
		p.Privilege.Publish = 1
	}
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.appendJSON(nil); string(got) != string(want) {
		t.Fatalf("payload %s, encoding/json %s", got, want)
	}
	pl := zegoPlain{AppID: app, UserID: user, Nonce: nonce, Ctime: ctime, Expire: expire, Payload: string(want)}
	if want, err = json.Marshal(pl); err != nil {
		t.Fatal(err)
	}
	if got := pl.appendJSON([]byte("prefix")); string(got) != "prefix"+string(want) {
		t.Fatalf("plaintext %s, encoding/json %s", got, want)
	}
}

// FuzzZegoJSON checks the hand-written Token04 JSON against encoding/json
// for any strings and numbers.
func FuzzZegoJSON(f *testing.F) {
	for _, c := range zegoJSONCases {
		s0 := ""
		if len(c.streams) > 0 {
			s0 = c.streams[0]
		}
		f.Add(c.user, c.room, s0, c.publish, uint32(1234567890), int32(7), int64(1700000000), int64(1700003600))
	}
	f.Fuzz(func(t *testing.T, user, room, stream string, publish bool, app uint32, nonce int32, ctime, expire int64) {
		var streams []string
		if stream != "" {
			streams = []string{stream, stream + "x"}
		}
		checkZegoJSON(t, user, room, streams, publish, app, nonce, ctime, expire)
	})
}
