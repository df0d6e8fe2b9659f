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
		*pc = (struct partition_channel){ c, i, p->is_linux ? above : c->base,
						  EPT_READ | (c->writers & self ? EPT_WRITE : 0) |
							  (c->exec & self ? EPT_EXEC : 0), 0 };
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

/* The running peers of p on c, each rung if ring (the IPI goes to the peer's own APIC): how many. */
static unsigned running_peers(const struct partition *p, const struct channel_cfg *c, bool ring)
{
	unsigned n = 0;

	for (unsigned i = 0; i < config->count; i++) {
		struct partition *q = (c->writers | c->readers) & BIT(i) ? endpoint(i) : NULL;

		if (q && q != p && q->state == PARTITION_RUNNING &&
		    (!ring || arch_send_ipi(cpus[q->cfg->cpu].apic_id, c->vector)))
			n++;
	}
	return n;
}

int64_t channel_info(struct partition *p, uint64_t k, uint64_t buf)
{
	struct hc_channel_info info = { 0 }, *out;
	const struct partition_channel *pc;
	if (k >= p->chan_count)
		return HC_ERR_BAD_ARGUMENT;
	pc = &p->chan[k];
	if (!(out = partition_mem(p, buf, sizeof(info))))
		return HC_ERR_BAD_ADDRESS;
	memcpy(info.name, pc->cfg->name, sizeof(info.name) - 1);
	info.base = pc->gpa;
	info.size = pc->cfg->size;
	info.rights = (uint32_t)pc->rights;
	info.vector = pc->cfg->vector;
	info.generation = __atomic_load_n(&generation[pc->index], __ATOMIC_ACQUIRE);
	info.peers = endpoint_count(pc->cfg->writers | pc->cfg->readers) - 1;
	info.peers_running = running_peers(p, pc->cfg, false);
	memcpy(out, &info, sizeof(info));
	return 0;
}

/*
 * At most one ring per HC_DOORBELL_INTERVAL_US by one sender on one channel: a peer takes no more
 * than that many doorbell interrupts, each coalesced in its IRR until it takes it, so its own
 * timer's interrupts still come through whatever a flood's sender does.
 */
int64_t channel_ring(struct partition *p, uint64_t k)
{
	struct partition_channel *pc;
	uint64_t now = rdtsc();

	if (k >= p->chan_count) {
		partition_deny(p, "doorbell on channel %lu: it has %u channels", k, p->chan_count);
		return HC_ERR_BAD_ARGUMENT;
	}
	pc = &p->chan[k];
	if (pc->last_ring && now - pc->last_ring < tsc_per_ms * HC_DOORBELL_INTERVAL_US / US_PER_MS) {
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
