/* Channels at run time: EPT rights per endpoint, HC_CHANNEL_INFO, doorbells, and a park's news. */
#include "channel.h"
#include "arch.h"
#include "cpu.h"
#include "hypercall.h"
#include "partition.h"
#include "string.h"

_Static_assert(HC_CHANNEL_READ == EPT_READ && HC_CHANNEL_WRITE == EPT_WRITE && HC_CHANNEL_EXEC == EPT_EXEC,
	       "a channel's rights are reported as the EPT maps them");

#define US_PER_MS 1000

static const struct config *config;              /* the one every partition was built from */
static uint32_t generation[CFG_MAX_CHANNELS];

uint64_t channel_rights(const struct channel_cfg *c, uint32_t self)
{
	return EPT_READ | (c->writers & self ? EPT_WRITE : 0) | (c->exec & self ? EPT_EXEC : 0);
}

int channel_attach(struct partition *p, const struct config *cfg, err_t *e)
{
	uint32_t self = BIT(p->cfg - cfg->part);
	uint64_t above = ALIGN_UP(p->cfg->size, CFG_SLICE_ALIGN); /* Linux: the first above its slice */

	config = cfg;
	p->chan_count = 0;
	for (unsigned i = 0; i < cfg->channel_count; i++) {
		const struct channel_cfg *c = &cfg->chan[i];
		struct partition_channel *pc = &p->chan[p->chan_count];

		if (!c->valid || !((c->writers | c->readers) & self))
			continue;
		*pc = (struct partition_channel){ c, i, p->is_linux ? above : c->base, channel_rights(c, self), 0 };
		above += ALIGN_UP(c->size, CFG_SLICE_ALIGN);
		if (ept_map(&p->ept, pc->gpa, c->base, c->size, pc->rights, e) < 0)
			return -1;
		p->chan_count++;
	}
	return 0;
}

/* The partition at endpoint i of the config, if it was built (an invalid one's cpu= may be anything). */
static struct partition *endpoint(unsigned i)
{
	struct partition *q = config->part[i].valid ? cpus[config->part[i].cpu].partition : NULL;

	return q && q->cfg == &config->part[i] ? q : NULL;
}

/*
 * p rang q: q's next ring on a channel of just the two of them answers, and is not held back by
 * the interval. Such a ring reaches only p; on a channel with more endpoints two could answer each
 * other to flood a third.
 */
static void answerable(struct partition *q, const struct partition *p)
{
	for (unsigned k = 0; k < q->chan_count; k++) {
		uint32_t ends = q->chan[k].cfg->writers | q->chan[k].cfg->readers;

		if (endpoint_count(ends) == 2 && (ends & BIT(p->cfg - config->part)))
			__atomic_store_n(&q->chan[k].last_ring, 0, __ATOMIC_RELAXED);
	}
}

/* The running peers of p on c, each rung if ring (the IPI goes to the peer's own APIC): how many. */
static unsigned running_peers(const struct partition *p, const struct channel_cfg *c, bool ring)
{
	unsigned n = 0;

	for (unsigned i = 0; i < config->count; i++) {
		struct partition *q = (c->writers | c->readers) & BIT(i) ? endpoint(i) : NULL;

		if (!q || q == p || q->state != PARTITION_RUNNING)
			continue;
		if (ring)
			answerable(q, p); /* first: q's answer may come back before this returns */
		if (!ring || arch_send_ipi(cpus[q->cfg->cpu].apic_id, c->vector))
			n++;
	}
	return n;
}

int64_t channel_info(struct partition *p, uint64_t k, uint64_t buf)
{
	const struct partition_channel *pc = k < p->chan_count ? &p->chan[k] : NULL;
	struct hc_channel_info *out;

	if (!pc)
		return HC_ERR_BAD_ARGUMENT;
	if (!(out = partition_mem(p, buf, sizeof(*out))))
		return HC_ERR_BAD_ADDRESS;
	*out = (struct hc_channel_info){
		.base = pc->gpa, .size = pc->cfg->size, .rights = (uint32_t)pc->rights, .vector = pc->cfg->vector,
		.generation = __atomic_load_n(&generation[pc->index], __ATOMIC_ACQUIRE),
		.peers = endpoint_count(pc->cfg->writers | pc->cfg->readers) - 1,
		.peers_running = running_peers(p, pc->cfg, false),
	};
	memcpy(out->name, pc->cfg->name, sizeof(out->name) - 1);
	return 0;
}

/*
 * A ring that answers one (on a channel of two, the peer rang the sender since its last ring
 * there, on any channel) goes out at once: a ping-pong is never held back, on one channel or on
 * two. Other rings go out at most once per HC_DOORBELL_INTERVAL_US by one sender on one channel,
 * so a flood reaches a peer no faster, each ring coalesced in its IRR until it takes it, and its
 * own timer's interrupts still come through.
 */
int64_t channel_ring(struct partition *p, uint64_t k)
{
	struct partition_channel *pc = k < p->chan_count ? &p->chan[k] : NULL;
	uint64_t now = rdtsc(), last = pc ? __atomic_load_n(&pc->last_ring, __ATOMIC_RELAXED) : 0;

	if (!pc) {
		partition_deny(p, "doorbell on channel %lu: it has %u channels", k, p->chan_count);
		return HC_ERR_BAD_ARGUMENT;
	}
	if (last && now - last < tsc_per_ms * HC_DOORBELL_INTERVAL_US / US_PER_MS) {
		partition_deny(p, "doorbell on channel %s within %u us of the last", pc->cfg->name,
			       HC_DOORBELL_INTERVAL_US);
		return HC_ERR_BUSY;
	}
	pc->last_ring = now;
	return running_peers(p, pc->cfg, true);
}

void channel_tell_peers(struct partition *p)
{
	for (unsigned k = 0; k < p->chan_count; k++) {
		__atomic_add_fetch(&generation[p->chan[k].index], 1, __ATOMIC_ACQ_REL);
		running_peers(p, p->chan[k].cfg, true);
	}
}
