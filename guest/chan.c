/* The channels guest (chan.elf): two partitions talking through slicehv channels and doorbells. */
#include "rt.h"
#include "hello.h"
#include "../arch/x86/msr.h"

/*
 * Partitioned only (guest/README.md). Each endpoint has two channels (HC_CHANNEL_INFO): the one
 * it writes ("out") and the one it only reads ("in"). Each channel opens with a struct chan_head
 * its writer keeps; a doorbell (HC_DOORBELL on out) tells the peer to look. Roles (role=):
 *   producer  writes records=<n> records (sequence number, payload, checksum) into the ring after
 *             out's head, at most as many unacknowledged as the ring holds, and rings;
 *   consumer  checks every record (sequence continuous, checksum right), acknowledges the count
 *             through its out channel and rings back;
 *   ping      rounds=<n> doorbell round trips, each timed in TSC ticks, then stream=<n> times
 *             fills all of out after its head, rings and waits for pong's checksum of it. A
 *             round trip rings both channels once; slicehv passes a ring that answers the peer's
 *             at once and holds others to one per HC_DOORBELL_INTERVAL_US (HC_ERR_BUSY), so
 *             warm-up rounds check that rounds need no gap between them (in TSC ticks: the guest
 *             knows no time unit), or find the one at which neither side is busy;
 *   pong      answers each ping, and checksums each stream;
 *   hello     greets a Linux partition's /init on its first channel (guest/hello.h), which reads
 *             and answers it through /dev/mem, and waits for the answer: seq=<n> is its number.
 * Both sides wait for the other's head (magic) before they start, so a stale channel from an
 * earlier boot is not read as work. wait=hlt|spin: how producer and consumer wait between
 * doorbells (HLT takes an exit each; spinning on in's count takes none); ping and pong
 * always spin on the count, so a round trip is one HC_DOORBELL exit per side.
 * Its lines, and what each figure means: guest/README.md. Status 0 only when every check held.
 * Tests of the checks themselves: corrupt=<seq> spoils that record's checksum, skip=<seq> leaves
 * that sequence number out (the producer's side); the consumer must then count an error.
 */

#define ARG_LEN 16
#define CHAN_MAGIC 0x6e616863766863ull /* "chvchan": the writer has set its head up */
#define RECORD_WORDS 6
#define RECORDS_DEFAULT 5000
#define ROUNDS_DEFAULT 1000
#define ROUNDS_MAX 4096
#define STREAM_DEFAULT 4
#define NO_SEQ UINT64_MAX      /* corrupt= and skip= absent */
#define MIX 0x9e3779b97f4a7c15ull /* Fibonacci hashing's constant: payload and checksum mixing */
#define BUSY_BACKOFF 1000      /* TSC ticks before the first retry of a busy doorbell, doubling */
#define BUSY_BACKOFF_MAX 1000000
#define PACE_STEP 1000         /* TSC ticks: ping's gap between rounds once a ring was busy, doubled while busy */
#define PACE_QUIET 100         /* warm-up rounds in a row without a busy ring that settle the gap */
#define PACE_ROUNDS_MAX 10000  /* warm-up rounds at most */
#define TICKS_PER 1000         /* throughput per 1000 TSC ticks */

/* The start of every channel, written by its writer only. */
struct chan_head {
	uint64_t magic;
	uint64_t count;        /* records written / acknowledged, round trips, streams */
	uint64_t errors;       /* the consumer's and pong's: what they found wrong */
	uint64_t stream_sum;   /* the checksum of the last stream */
	uint64_t busy;         /* pong's doorbells answered HC_ERR_BUSY so far */
	uint64_t warm;         /* ping's warm-up rounds, set before the first measured one */
	uint64_t gap;          /* ping's least ticks between two rings, which pong keeps too */
	uint64_t reserved[1];
};
_Static_assert(sizeof(struct chan_head) == 64, "a head fills one cache line: the records start aligned");

struct record {
	uint64_t seq;
	uint64_t payload[RECORD_WORDS];
	uint64_t sum;
};

struct chan {
	int index;
	volatile struct chan_head *head;
	volatile uint64_t *data;   /* after the head */
	uint64_t data_words;
};

enum role { PRODUCER, CONSUMER, PING, PONG, HELLO, ROLES };

static const char role_names[ROLES][ARG_LEN] = { "producer", "consumer", "ping", "pong", "hello" };
static struct chan in, out;
static struct boot_info bi;
static bool wait_hlt;
static volatile uint64_t doorbells; /* received */
static uint64_t rung, busy, rings, errors;
static uint64_t rang_at;            /* TSC just before our last ring that went through */
static uint64_t rtt[ROUNDS_MAX];

extern char chan_doorbell_stub[];
void chan_doorbell(uint64_t tsc);
IRQ_STUB(chan_doorbell_stub, chan_doorbell);

void chan_doorbell(uint64_t tsc)
{
	(void)tsc;
	doorbells++;
	wrmsr(X2APIC_EOI, 0);
}

__attribute__((noreturn)) static void fail(const char *what)
{
	kprint("chan: %s: %s\n", bi.name, what);
	guest_finish(1);
}

static const char *rights_name(uint32_t rights)
{
	return rights & HC_CHANNEL_WRITE ? (rights & HC_CHANNEL_EXEC ? "rwx" : "rw") :
	       rights & HC_CHANNEL_EXEC ? "rx" : "r";
}

/*
 * Every channel of ours, printed, until HC_CHANNEL_INFO says there is no k-th; the one we write
 * is out, the one we only read is in.
 */
static void channels_find(void)
{
	struct hc_channel_info ci;
	int64_t r;

	for (int k = 0; (r = hypercall2(HC_CHANNEL_INFO, (uint64_t)k, (uintptr_t)&ci)) != HC_ERR_BAD_ARGUMENT;
	     k++) {
		struct chan *c = ci.rights & HC_CHANNEL_WRITE ? &out : &in;

		if (r) {
			kprint("chan: %s: HC_CHANNEL_INFO %d: error %ld\n", bi.name, k, r);
			guest_finish(1);
		}

		kprint("chan: %s: channel %s %lu bytes at 0x%lx %s vector 0x%x peers %u running %u\n",
		       bi.name, ci.name, ci.size, ci.base, rights_name(ci.rights), ci.vector, ci.peers,
		       ci.peers_running);
		if (c->head)
			fail("more than one channel to write or to read (give one of each)");
		if (ci.size <= sizeof(struct chan_head))
			fail("a channel too small for its head");
		*c = (struct chan){ k, (volatile void *)(uintptr_t)ci.base,
				    (volatile void *)(uintptr_t)(ci.base + sizeof(struct chan_head)),
				    (ci.size - sizeof(struct chan_head)) / sizeof(uint64_t) };
		idt_set(ci.vector, chan_doorbell_stub);
	}
	if (!out.head || !in.head)
		fail("needs one channel it writes and one it only reads");
}

/* HC_DOORBELL on out; a busy answer is retried after a growing wait (slicehv counts it). */
static void ring(void)
{
	uint64_t backoff = BUSY_BACKOFF, at;
	int64_t r;

	while (at = rdtsc(), (r = hypercall(HC_DOORBELL, (uint64_t)out.index)) == HC_ERR_BUSY) {
		busy++;
		tsc_wait(backoff);
		backoff = backoff < BUSY_BACKOFF_MAX ? backoff * 2 : backoff;
	}
	if (r < 0) {
		kprint("chan: %s: doorbell on channel %d: error %ld\n", bi.name, out.index, r);
		guest_finish(1);
	}
	rings++;
	rung += (uint64_t)r;
	rang_at = at;
}

/* Until in's count differs from seen: HLT between doorbells, or spinning. */
static void wait_count(uint64_t seen)
{
	if (wait_hlt)
		wait_change_hlt(&in.head->count, seen);
	else
		while (in.head->count == seen)
			cpu_relax();
}

/*
 * Until in's count is target and the doorbell telling of it has come, spinning with interrupts on:
 * no exit. The count is written before the peer's ring: answering on the count alone could ring
 * before slicehv has passed the peer's ring, and find ours unanswered (busy).
 */
static void await_count(uint64_t target)
{
	static uint64_t taken; /* doorbells when the last wait ended */

	while (in.head->count != target || doorbells == taken)
		cpu_relax();
	taken = doorbells;
}

/* Our head set up and the peer rung, then until the peer's head is too. */
static void handshake(void)
{
	out.head->count = out.head->errors = out.head->stream_sum = out.head->busy = 0;
	out.head->warm = out.head->gap = 0;
	__asm__ volatile("" ::: "memory");
	out.head->magic = CHAN_MAGIC;
	ring();
	while (in.head->magic != CHAN_MAGIC)
		cpu_relax();
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t x = (a ^ b) * MIX;

	return x ^ (x >> 29);
}

static uint64_t record_sum(const volatile struct record *r)
{
	uint64_t s = mix(r->seq, 0);

	for (int i = 0; i < RECORD_WORDS; i++)
		s = mix(s, r->payload[i]);
	return s;
}

static void record_write(volatile struct record *r, uint64_t seq, uint64_t corrupt)
{
	r->seq = seq;
	for (int i = 0; i < RECORD_WORDS; i++)
		r->payload[i] = mix(seq, (uint64_t)i);
	r->sum = record_sum(r) + (seq == corrupt);
}

static void producer(uint64_t records)
{
	volatile struct record *ring_base = (volatile void *)out.data;
	uint64_t slots = out.data_words * sizeof(uint64_t) / sizeof(struct record);
	uint64_t corrupt = boot_arg_number(&bi, "corrupt", NO_SEQ), skip = boot_arg_number(&bi, "skip", NO_SEQ);
	uint64_t sent = 0, seq = 0;

	if (!slots)
		fail("the channel it writes holds no record");
	while (in.head->count < records) {
		uint64_t acked = in.head->count;

		if (acked > sent)
			fail("acknowledged more records than were sent");
		for (; sent < records && sent - acked < slots; sent++, seq++) {
			seq += seq == skip;
			record_write(&ring_base[sent % slots], seq, corrupt);
		}
		__asm__ volatile("" ::: "memory");
		if (out.head->count != sent) {
			out.head->count = sent;
			ring();
		}
		wait_count(acked);
	}
	errors += in.head->errors;
	kprint("chan: producer: %lu records sent, errors %lu, ", sent, errors);
}

static void consumer(uint64_t records)
{
	const volatile struct record *ring_base = (const volatile void *)in.data;
	uint64_t slots = in.data_words * sizeof(uint64_t) / sizeof(struct record), checked = 0, expect = 0;

	while (checked < records) {
		uint64_t head = in.head->count;

		if (head - checked > slots || head > records)
			fail("the producer's count is past what the ring holds");
		for (; checked < head; checked++) {
			const volatile struct record *r = &ring_base[checked % slots];

			if (r->seq != expect || r->sum != record_sum(r)) {
				kprint("chan: consumer: record %lu: sequence %lu (expected %lu), checksum %s\n",
				       checked, r->seq, expect, r->sum == record_sum(r) ? "right" : "wrong");
				errors++;
			}
			expect = r->seq + 1;
		}
		out.head->errors = errors;
		__asm__ volatile("" ::: "memory");
		if (out.head->count != checked) {
			out.head->count = checked;
			ring();
		}
		if (checked < records)
			wait_count(head);
	}
	kprint("chan: consumer: %lu records checked, errors %lu, ", checked, errors);
}

static void sort(uint64_t *v, uint64_t n)
{
	for (uint64_t i = 1; i < n; i++)
		for (uint64_t j = i; j && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* The words of a stream, filled (ping) or read back (pong); their checksum. */
static uint64_t stream_fill(volatile uint64_t *w, uint64_t words, uint64_t round)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < words; i++)
		s = mix(s, w[i] = round * words + i);
	return s;
}

static uint64_t stream_sum(const volatile uint64_t *w, uint64_t words)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < words; i++)
		s = mix(s, w[i]);
	return s;
}

/* Until gap ticks after our last ring. */
static void pace_wait(uint64_t gap)
{
	while (rdtsc() - rang_at < gap)
		cpu_relax();
}

/* Round trip n, rung at least gap ticks after our last ring (pong keeps it too): its ticks. */
static uint64_t round_trip(uint64_t n, uint64_t gap)
{
	uint64_t t0;

	out.head->gap = gap;
	pace_wait(gap);
	t0 = rdtsc();
	out.head->count = n;
	ring();
	await_count(n);
	return rdtsc() - t0;
}

/* Warm-up rounds from 1: the gap doubles on every busy ring (pong's seen a round late). */
static uint64_t pace(uint64_t *n)
{
	uint64_t gap = 0, quiet = 0;

	for (uint64_t seen = 0; quiet < PACE_QUIET && *n < PACE_ROUNDS_MAX; ++*n) {
		round_trip(*n + 1, gap);
		quiet = busy + in.head->busy == seen ? quiet + 1 : 0;
		gap = quiet ? gap : gap ? gap * 2 : PACE_STEP;
		seen = busy + in.head->busy;
	}
	return gap;
}

static void ping(uint64_t rounds, uint64_t streams)
{
	uint64_t before, exits, start, ticks, bytes = out.data_words * sizeof(uint64_t), warm = 0, gap;
	uint64_t busy_before;

	gap = pace(&warm);
	out.head->warm = warm;
	console_drain();
	busy_before = busy + in.head->busy;
	before = hc_exit_count();
	for (uint64_t i = 0; i < rounds; i++)
		rtt[i] = round_trip(warm + i + 1, gap);
	exits = hc_exit_count() - before - 1;
	sort(rtt, rounds);
	kprint("chan: ping: %lu warm-up rounds, gap %lu ticks\n", warm, gap);
	kprint("chan: ping: %lu round trips, rtt median %lu min %lu max %lu ticks, errors %lu, busy %lu, "
	       "exits %lu\n", rounds, rtt[rounds / 2], rtt[0], rtt[rounds - 1], errors,
	       busy + in.head->busy - busy_before, exits);
	rounds += warm;
	console_drain();
	start = rdtsc();
	for (uint64_t r = 1; r <= streams; r++) {
		out.head->stream_sum = stream_fill(out.data, out.data_words, r);
		out.head->count = rounds + r;
		ring();
		await_count(rounds + r);
		errors += in.head->stream_sum != out.head->stream_sum;
	}
	ticks = rdtsc() - start;
	errors += in.head->errors;
	kprint("chan: stream: %lu x %lu bytes in %lu ticks, %lu bytes per %u ticks, errors %lu\n", streams,
	       bytes, ticks, streams * bytes * TICKS_PER / (ticks ? ticks : 1), TICKS_PER, errors);
	kprint("chan: ping: ");
}

static void pong(uint64_t rounds, uint64_t streams)
{
	uint64_t before = 0, exits, i;

	console_drain();
	for (i = 1;; i++) {
		await_count(i);
		if (in.head->warm && i == in.head->warm + 1)
			before = hc_exit_count();
		out.head->count = i;
		pace_wait(in.head->gap);
		ring();
		out.head->busy = busy;
		if (in.head->warm && i == in.head->warm + rounds)
			break;
	}
	exits = hc_exit_count() - before - 1;
	rounds = i;
	for (uint64_t r = 1; r <= streams; r++) {
		await_count(rounds + r);
		out.head->stream_sum = stream_sum(in.data, in.data_words);
		errors += out.head->stream_sum != in.head->stream_sum;
		out.head->errors = errors;
		out.head->count = rounds + r;
		ring();
	}
	kprint("chan: pong: %lu round trips measured of %lu, errors %lu, busy %lu, exits %lu\n",
	       rounds - in.head->warm, rounds, errors, busy, exits);
	kprint("chan: pong: ");
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static enum role role_find(void)
{
	char name[ARG_LEN] = "";
	int r = 0;

	boot_arg(&bi, "role", name, sizeof(name));
	while (r < ROLES && !str_eq(name, role_names[r]))
		r++;
	if (r == ROLES)
		fail("role= must be producer, consumer, ping, pong or hello");
	return (enum role)r;
}

/* role=hello: our half of the channel's first page, then Linux's answer in its half (no doorbell:
 * the answer comes from Linux's userspace, which cannot ring). */
static void hello(void)
{
	static const char greeting[] = "hello from a toy through a slicehv channel";
	uint32_t seq = (uint32_t)boot_arg_number(&bi, "seq", 1);
	struct hc_channel_info ci;
	struct hello_page *page;

	if (hypercall2(HC_CHANNEL_INFO, 0, (uintptr_t)&ci) || !(ci.rights & HC_CHANNEL_WRITE) ||
	    ci.size < sizeof(*page))
		fail("hello needs a first channel it writes, of a page at least");
	page = (struct hello_page *)(uintptr_t)ci.base;
	for (unsigned i = 0; i < sizeof(greeting); i++)
		page->from_toy.text[i] = greeting[i];
	page->from_toy.seq = seq;
	__asm__ volatile("" ::: "memory");
	page->from_toy.magic = HELLO_MAGIC_TOY;
	kprint("chan: %s: hello: greeting %u in channel %s at 0x%lx\n", bi.name, seq, ci.name, ci.base);
	while (page->from_linux.magic != HELLO_MAGIC_LINUX)
		cpu_relax();
	page->from_linux.text[HELLO_TEXT - 1] = '\0';
	kprint("chan: %s: hello: linux answered '%s' (seq %u)\n", bi.name, page->from_linux.text,
	       page->from_linux.seq);
	guest_finish(page->from_linux.seq == seq ? 0 : 1);
}

void guest_main(uint32_t info)
{
	char wait[ARG_LEN] = "hlt";
	bool partitioned = rt_init();
	uint64_t records, rounds, streams, before;
	const char *apic_how;
	enum role role;

	if (boot_parse(info, &bi))
		fail("no usable memory range holds the image");
	if (!partitioned)
		fail("needs slicehv's channels: not partitioned");
	role = role_find();
	if (role == HELLO)
		hello();
	boot_arg(&bi, "wait", wait, sizeof(wait));
	wait_hlt = wait[0] == 'h';
	idt_install("chan");
	if (!apic_x2_enable(&apic_how))
		fail("no x2apic on this cpu");
	channels_find();
	__asm__ volatile("sti");
	records = boot_arg_number(&bi, "records", RECORDS_DEFAULT);
	rounds = boot_arg_number(&bi, "rounds", ROUNDS_DEFAULT);
	streams = boot_arg_number(&bi, "stream", STREAM_DEFAULT);
	if (!records || !rounds || rounds > ROUNDS_MAX) {
		kprint("chan: %s: records= must be positive, rounds= from 1 to %u\n", bi.name, ROUNDS_MAX);
		guest_finish(1);
	}
	before = hc_exit_count();
	handshake();
	if (role == PRODUCER)
		producer(records);
	else if (role == CONSUMER)
		consumer(records);
	else if (role == PING)
		ping(rounds, streams);
	else
		pong(rounds, streams);
	kprint("doorbells %lu (%lu peers rung, %lu busy), received %lu, exits %lu\n", rings, rung, busy,
	       doorbells, hc_exit_count() - before - 1);
	cli();
	if (irq_unexpected)
		fail("unexpected interrupts");
	kprint("chan: %s: done\n", bi.name);
	guest_finish(errors ? 1 : 0);
}
