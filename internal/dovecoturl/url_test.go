package dovecoturl

import "testing"

// TestParse checks the port of http_url_parse: what it accepts,
// the request target and Host it makes, the parts lib-http's callers use
// (host name, port, userinfo) and Dovecot's error texts.
func TestParse(t *testing.T) {
	tests := []struct {
		url       string
		userinfo  bool
		authority string
		target    string
		https     bool
		user      string
		password  string
		hostName  string // HostName(), when not ""
		port      int    // PortOrDefault(), when not 0
		err       string
	}{
		{url: "http://127.0.0.1:18080/push/path?x=1", authority: "127.0.0.1:18080", target: "/push/path?x=1"},
		{url: "http://example.com", authority: "example.com", target: "/", hostName: "example.com", port: 80},
		{url: "HTTPS://Example.COM.:443/a%20b/?", authority: "Example.COM:443", target: "/a%20b/?", https: true, hostName: "Example.COM", port: 443},
		{url: "http://h/a/../../b/./c/.", authority: "h", target: "/b/c/"},
		{url: "http://h/%7euser/x;y=1@z:w", authority: "h", target: "/~user/x;y=1@z:w"},
		{url: "http://h/%c3%a9?q=%C3%A9", authority: "h", target: "/%c3%a9?q=%C3%A9"},
		{url: "http://[::1]:8080/x", authority: "[::1]:8080", target: "/x", hostName: "::1", port: 8080},
		{url: "https://h/", authority: "h", target: "/", https: true, port: 443},
		{url: "http://u%40x:p%3As@10.0.0.1:81/", userinfo: true, authority: "10.0.0.1:81", target: "/", user: "u@x", password: "p:s", hostName: "10.0.0.1", port: 81},
		{url: "//h/x", authority: "h", target: "/x"},
		{url: "http://u:p%40ss@h/", userinfo: true, authority: "h", target: "/", user: "u"},
		{url: "http://h:/x", authority: "h", target: "/x"},
		{url: "http://my-host.example.org?x", authority: "my-host.example.org", target: "/?x"},

		{url: "http://u:p@h/", err: "HTTP URL does not allow `userinfo@' part"},
		{url: "ftp://h/", err: "Not an HTTP URL"},
		{url: "localhost:8080", err: "Not an HTTP URL"},
		{url: "http:h", err: "Absolute HTTP URL requires `//' after `http:'"},
		{url: "/path", err: "Relative HTTP URL not allowed"},
		{url: "not a url", err: "Relative HTTP URL not allowed"},
		{url: "127.0.0.1:80/x", err: "Relative HTTP URL not allowed"},
		{url: "", err: "Relative HTTP URL not allowed"},
		{url: "http://", err: "HTTP URL does not allow empty host identifier"},
		{url: "http://:80/", err: "HTTP URL does not allow empty host identifier"},
		{url: "http://h/#frag", err: "URL fragment not allowed for HTTP URL in this context"},
		{url: "http://h/a b", err: "Path component contains invalid character"},
		{url: "http://h/?a b", err: "Query component contains invalid character"},
		{url: "http://h/#a b", err: "Fragment component contains invalid character"},
		{url: "http://h:99999/", err: "Invalid port number"},
		{url: "http://h:0/", err: "Invalid port number"},
		{url: "http://h:80x/", err: "Invalid host port"},
		{url: "http://h_x/", err: "Invalid host identifier"},
		{url: "http://h-/", err: "Invalid domain label in hostname"},
		{url: "http://[::1/", err: "Expecting ']' at end of IP-literal"},
		{url: "http://[]/", err: "Empty IPv6 host address"},
		{url: "http://[v1.x]/", err: "Future IP host address 'v1.x' not supported"},
		{url: "http://[1.2.3.4]/", err: "Invalid IPv6 host address '1.2.3.4'"},
		{url: "http://h/%zz", err: "Expecting hex digit after '%', but found 'z'"},
		{url: "http://h/%4z", err: "Expecting hex digit after '%4', but found 'z'"},
		{url: "http://h/%4", err: "Unexpected URI boundary after '%'"},
		{url: "http://h/%00", err: "Percent encoding is not allowed to encode NUL character"},
		{url: "http://%2d/", err: "(null)"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			var flags Flags
			if tt.userinfo {
				flags = AllowUserinfo
			}
			u, err := Parse(tt.url, flags)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error; want %q", tt.err)
				}
				if err.Error() != tt.err {
					t.Fatalf("error %q; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %q", err)
			}
			if got := u.Authority(); got != tt.authority {
				t.Errorf("authority %q; want %q", got, tt.authority)
			}
			if got := u.Target(); got != tt.target {
				t.Errorf("target %q; want %q", got, tt.target)
			}
			if u.HTTPS != tt.https {
				t.Errorf("https %v; want %v", u.HTTPS, tt.https)
			}
			if tt.user != "" && (u.User == nil || *u.User != tt.user) {
				t.Errorf("user %v; want %q", u.User, tt.user)
			}
			if tt.password != "" && (u.Password == nil || *u.Password != tt.password) {
				t.Errorf("password %v; want %q", u.Password, tt.password)
			}
			if got := u.HostName(); tt.hostName != "" && got != tt.hostName {
				t.Errorf("host name %q; want %q", got, tt.hostName)
			}
			if got := u.PortOrDefault(); tt.port != 0 && got != tt.port {
				t.Errorf("port %d; want %d", got, tt.port)
			}
			if want := map[bool]string{false: "http", true: "https"}[tt.https]; u.Scheme() != want {
				t.Errorf("scheme %q; want %q", u.Scheme(), want)
			}
		})
	}
}
