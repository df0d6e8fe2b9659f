/* Hypercalls (the ABI is in hypercall.h): every address is checked against the caller's slice. */
#include "hypercall.h"
#include "cpu.h"
#include "partition.h"
#include "phys.h"
#include "string.h"

static int64_t hc_console_write(struct partition *p, uint64_t buf, uint64_t len)
{
	const char *s;

	if (len == 0 || len > HC_CONSOLE_MAX)
		return HC_ERR_BAD_LENGTH;
	if (!(s = partition_mem(p, buf, len)))
		return HC_ERR_BAD_ADDRESS;
	for (uint64_t i = 0; i < len; i++)
		partition_console_putc(p, s[i]);
	return (int64_t)len;
}

static int64_t hc_partition_info(struct partition *p, uint64_t buf)
{
	struct hc_partition_info info = { .index = p->index, .partitions = partition_count,
					  .cpu = p->cfg->cpu, .apic_id = cpus[p->cfg->cpu].apic_id,
					  .slice_base = p->gpa_base, .slice_size = p->cfg->size }, *out;

	if (!(out = partition_mem(p, buf, sizeof(info))))
		return HC_ERR_BAD_ADDRESS;
	memcpy(info.name, p->cfg->name, sizeof(info.name) - 1);
	memcpy(out, &info, sizeof(info));
	return 0;
}

int64_t hypercall(struct partition *p, uint64_t nr, uint64_t a0, uint64_t a1)
{
	switch (nr) {
	case HC_CONSOLE_WRITE:
		return hc_console_write(p, a0, a1);
	case HC_PARTITION_INFO:
		return hc_partition_info(p, a0);
	case HC_EXIT_COUNT:
		return (int64_t)p->exits_total;
	case HC_EXIT_REASON_COUNT:
		return a0 < EXIT_REASON_COUNT ? (int64_t)p->exits[a0] : HC_ERR_BAD_ARGUMENT;
	case HC_CHANNEL_INFO:
		return channel_info(p, a0, a1);
	case HC_DOORBELL:
		return channel_ring(p, a0);
	case HC_DONE:
		p->status = (int64_t)a0; /* all 64 bits: any nonzero value is a failure */
		partition_stop(p, PARTITION_DONE);
	default:
		partition_deny(p, "unknown hypercall %lu", nr);
		return HC_ERR_UNKNOWN_CALL;
	}
}
