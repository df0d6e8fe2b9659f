/* kvsnprintf: the hypervisor's own bounded printf engine, with no libc underneath. */
#include "fmt.h"
#include "string.h"

#define FMT_MAX_WIDTH 256u /* wider fields are clamped: they only come from our own formats */
#define FMT_DIGITS_MAX 20  /* 2^64 - 1 has 20 decimal digits, 16 hex */
#define FMT_NULL_STR "(null)"

struct fmt_out {
	char *buf;
	size_t size;
	size_t pos; /* bytes wanted so far, which may exceed size */
};

struct fmt_spec {
	unsigned width;
	bool zero, left;
	bool wide; /* l, ll or z: all three are 64 bits on x86-64 (LP64) */
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->pos + 1 < o->size)
		o->buf[o->pos] = c;
	o->pos++;
}

static void out_repeat(struct fmt_out *o, char c, size_t n)
{
	while (n--)
		out_char(o, c);
}

/* One field: prefix (a sign) then body, padded to the width; '0' pads between the two. */
static void out_field(struct fmt_out *o, const struct fmt_spec *sp, const char *prefix,
		      const char *body, size_t n)
{
	size_t used = strlen(prefix) + n;
	size_t pad = sp->width > used ? sp->width - used : 0;

	if (!sp->left && !sp->zero)
		out_repeat(o, ' ', pad);
	while (*prefix)
		out_char(o, *prefix++);
	if (!sp->left && sp->zero)
		out_repeat(o, '0', pad);
	for (size_t i = 0; i < n; i++)
		out_char(o, body[i]);
	if (sp->left)
		out_repeat(o, ' ', pad);
}

static void out_number(struct fmt_out *o, const struct fmt_spec *sp, uint64_t v, unsigned base,
		       const char *prefix)
{
	const char *digits = "0123456789abcdef";
	char tmp[FMT_DIGITS_MAX];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	out_field(o, sp, prefix, tmp + i, sizeof(tmp) - i);
}

/* The next integer argument; a plain int is sign- or zero-extended as the conversion asks. */
static uint64_t arg_int(va_list *ap, const struct fmt_spec *sp, bool is_signed)
{
	if (sp->wide)
		return va_arg(*ap, uint64_t);
	return is_signed ? (uint64_t)(int64_t)va_arg(*ap, int) : va_arg(*ap, unsigned int);
}

/* Reads flags, width and length modifier after a '%'; returns the conversion character. */
static const char *parse_spec(const char *f, struct fmt_spec *sp)
{
	*sp = (struct fmt_spec){ 0 };
	for (; *f == '0' || *f == '-'; f++)
		*(*f == '0' ? &sp->zero : &sp->left) = true;
	for (; *f >= '0' && *f <= '9'; f++)
		if (sp->width < FMT_MAX_WIDTH)
			sp->width = sp->width * 10 + (unsigned)(*f - '0');
	if (sp->width > FMT_MAX_WIDTH)
		sp->width = FMT_MAX_WIDTH;
	sp->wide = *f == 'l' || *f == 'z';
	f += sp->wide + (f[0] == 'l' && f[1] == 'l');
	return f;
}

static void out_conv(struct fmt_out *o, struct fmt_spec *sp, char conv, va_list *ap)
{
	const char *s;
	char c;
	int64_t v;

	sp->zero &= conv != 's' && conv != 'c'; /* '0' pads numbers only */
	switch (conv) {
	case 'd':
		v = (int64_t)arg_int(ap, sp, true);
		out_number(o, sp, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0 ? "-" : "");
		return;
	case 'u':
	case 'x':
		out_number(o, sp, arg_int(ap, sp, false), conv == 'u' ? 10 : 16, "");
		return;
	case 's':
		s = va_arg(*ap, const char *);
		s = s ? s : FMT_NULL_STR;
		out_field(o, sp, "", s, strlen(s));
		return;
	case 'c':
		c = (char)va_arg(*ap, int);
		out_field(o, sp, "", &c, 1);
		return;
	}
	/* "%%", or an unknown conversion printed as written so the mistake shows. */
	out_char(o, '%');
	if (conv != '%')
		out_char(o, conv);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { .buf = buf, .size = size, .pos = 0 };
	struct fmt_spec sp;
	va_list args;

	va_copy(args, ap); /* a va_list we can pass to the helpers by address */
	while (*fmt) {
		if (*fmt != '%') {
			out_char(&o, *fmt++);
			continue;
		}
		fmt = parse_spec(fmt + 1, &sp);
		if (*fmt)
			out_conv(&o, &sp, *fmt++, &args);
		else
			out_char(&o, '%');
	}
	va_end(args);
	if (size > 0)
		buf[o.pos < size ? o.pos : size - 1] = '\0';
	return (int)o.pos;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
