#include "url_norm.h"

#include <string.h>

static char url_norm_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

size_t url_norm_strip_query(const char *url, size_t len, char *out, size_t out_cap)
{
	size_t end = 0;
	while (end < len && url[end] != '?' && url[end] != '#')
		end++;
	if (end > out_cap)
		end = out_cap;
	/* The scheme ends at "://"; without one, nothing is lowercased. */
	size_t host_end = 0;
	for (size_t i = 0; i + 2 < end; i++) {
		char c = url[i];
		if (c == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
			host_end = i + 3;
			while (host_end < end && url[host_end] != '/')
				host_end++;
			break;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			break;
	}
	for (size_t i = 0; i < host_end; i++)
		out[i] = url_norm_lower(url[i]);
	if (out != url && end > host_end)
		memmove(out + host_end, url + host_end, end - host_end);
	return end;
}
