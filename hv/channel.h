/* Channels at run time: each endpoint's map of them, their doorbells, and peers told of a park. */
#ifndef HV_CHANNEL_H
#define HV_CHANNEL_H

#include "config.h"

struct partition;

/* One channel as one endpoint sees it. */
struct partition_channel {
	const struct channel_cfg *cfg;
	unsigned index;     /* in config.chan */
	uint64_t gpa;       /* where the endpoint sees it */
	uint64_t rights;    /* EPT_READ, _WRITE, _EXEC: the HC_CHANNEL_* bits */
	uint64_t last_ring; /* TSC of this endpoint's last doorbell on it */
};

/* What the config gives endpoint self (a partition's bit): EPT_READ, plus _WRITE and _EXEC as listed. */
uint64_t channel_rights(const struct channel_cfg *c, uint32_t self);
/* Maps p's channels of cfg into its EPT: a toy's at their host address, Linux's above its slice. */
int channel_attach(struct partition *p, const struct config *cfg, err_t *e);
/* HC_CHANNEL_INFO and HC_DOORBELL for p's k-th channel (hypercall.h). */
int64_t channel_info(struct partition *p, uint64_t k, uint64_t buf);
int64_t channel_ring(struct partition *p, uint64_t k);
/* p parks: each of its channels' generation grows, and its running peers are rung. */
void channel_tell_peers(struct partition *p);

#endif
