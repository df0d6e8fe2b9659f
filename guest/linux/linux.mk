# The Linux guest, from Debian's packages: `make linux-guest` builds, in $(BUILD)/linux/,
#   vmlinuz      Debian's bzImage, out of the pinned linux-image package (never installed here)
#   vmlinux      the ELF inside it (xz payload), checked for the PVH entry note: the fast route
#   initrd.cpio  an uncompressed newc initramfs: busybox-static, its links, and /init (init.c)
# `make linux-qemu` boots vmlinux + initrd.cpio bare under QEMU's TCG and checks the init's lines.
# Included by the top Makefile (which sets BUILD, CC, WARN and PYTHON). The .debs are fetched
# with apt-get download (guest/linux/fetch-deb.sh) and cached here; nothing else is downloaded.
#
# Your own kernel and initramfs: give their paths on make's command line, for example
#   make iso LINUX_VMLINUX=/path/to/vmlinux LINUX_INITRD=/path/to/initrd.cpio
# (LINUX_BZIMAGE for the bzImage route, LINUX_CMDLINE for the command line). A vmlinux needs the
# PVH entry (CONFIG_PVH; check it with guest/linux/vmlinux.py check FILE), a kernel without it
# takes the bzImage route. Any initramfs format the kernel unpacks will do; the tests look for
# the lines of init.c (`linux-init: up <tsc>`, `linux-init: work <ticks> sum <hex>`).

# The pinned packages. When Debian moves on, `apt-cache depends linux-image-amd64` names the new
# kernel package and `apt-cache policy <package>` its version.
LINUX_KERNEL_PKG      := linux-image-6.1.0-57-amd64
LINUX_KERNEL_VERSION  := 6.1.192-3
LINUX_BUSYBOX_PKG     := busybox-static
LINUX_BUSYBOX_VERSION := 1:1.35.0-4+deb12u1+b1
# The busybox links in /bin, for a shell when booting with rdinit=/bin/sh; init.c runs
# /bin/busybox itself.
LINUX_BUSYBOX_APPLETS := sh cat ls mount dmesg sha256sum gzip poweroff

LINUX_DIR     := $(BUILD)/linux
LINUX_VMLINUX ?= $(LINUX_DIR)/vmlinux
LINUX_BZIMAGE ?= $(LINUX_DIR)/vmlinuz
LINUX_INITRD  ?= $(LINUX_DIR)/initrd.cpio
# The lean command line (LINUX-GUEST.md: 0.54 G instructions from kernel start to /init under
# Bochs, against 1.62 G by default). cryptomgr.notests skips the crypto self-tests; rodata=off
# skips DEBUG_WX's page-table walks and so gives up the kernel's W^X protection, a trade-off
# for boot time; noapic leaves out the IOAPIC, which a partition has not. Not acpi=off: Linux
# needs the MADT to take over an x2APIC that is already enabled.
LINUX_CMDLINE ?= console=ttyS0,115200 quiet nokaslr cryptomgr.notests rodata=off noapic \
                 ipv6.disable=1 tsc=reliable

# A .deb's file name in the cache: package_version.deb without the epoch, whose colon make
# cannot have in a target.
linux_deb = $(LINUX_DIR)/$(1)_$(lastword $(subst :, ,$(2))).deb
LINUX_KERNEL_DEB  := $(call linux_deb,$(LINUX_KERNEL_PKG),$(LINUX_KERNEL_VERSION))
LINUX_BUSYBOX_DEB := $(call linux_deb,$(LINUX_BUSYBOX_PKG),$(LINUX_BUSYBOX_VERSION))
LINUX_RELEASE     := $(LINUX_KERNEL_PKG:linux-image-%=%)

# `make linux-qemu`: the bare PVH boot under TCG. 256 MiB as the measured minimum of 96 MiB
# leaves the memory walk little to do; the timeout only stops a hung boot (a normal one ends
# itself at poweroff). LINUX_QEMU_KERNEL=$(LINUX_BZIMAGE) boots the bzImage instead.
LINUX_QEMU_KERNEL  ?= $(LINUX_VMLINUX)
LINUX_QEMU_MEM_MIB := 256
LINUX_QEMU_TIMEOUT := 600

.PHONY: linux-guest linux-qemu
linux-guest: $(LINUX_VMLINUX) $(LINUX_BZIMAGE) $(LINUX_INITRD)

linux-qemu: $(LINUX_QEMU_KERNEL) $(LINUX_INITRD)
	@guest/linux/qemu-boot.sh $(LINUX_QEMU_KERNEL) $(LINUX_INITRD) "$(LINUX_CMDLINE)" \
	    $(LINUX_QEMU_MEM_MIB) $(LINUX_QEMU_TIMEOUT) $(LINUX_DIR)/qemu.log

$(LINUX_DIR)/%.deb:
	@mkdir -p $(dir $@)
	@echo "  APT     $(notdir $@)"
	@guest/linux/fetch-deb.sh $(PKG) $(VERSION) $@
$(LINUX_KERNEL_DEB): PKG := $(LINUX_KERNEL_PKG)
$(LINUX_KERNEL_DEB): VERSION := $(LINUX_KERNEL_VERSION)
$(LINUX_BUSYBOX_DEB): PKG := $(LINUX_BUSYBOX_PKG)
$(LINUX_BUSYBOX_DEB): VERSION := $(LINUX_BUSYBOX_VERSION)

# Only the bzImage out of the kernel package: its modules would add some 400 MB to the build.
$(LINUX_DIR)/vmlinuz: $(LINUX_KERNEL_DEB)
	@echo "  DPKG    $@"
	@dpkg-deb --fsys-tarfile $< | tar -xOf - ./boot/vmlinuz-$(LINUX_RELEASE) > $@.tmp
	@mv $@.tmp $@

# objcopy drops what follows the ELF in the payload (the decompressor's KASLR relocation
# table, 0.9 MB) and leaves the PT_LOADs as they are; the PVH note is checked again after it.
$(LINUX_DIR)/vmlinux: $(LINUX_DIR)/vmlinuz guest/linux/vmlinux.py
	@echo "  XZ      $@"
	@$(PYTHON) guest/linux/vmlinux.py extract $< $@.full
	@objcopy --strip-all $@.full $@.tmp
	@rm $@.full
	@mv $@.tmp $@
	@$(PYTHON) guest/linux/vmlinux.py check $@ || { rm $@; exit 1; }

$(LINUX_DIR)/busybox: $(LINUX_BUSYBOX_DEB)
	@echo "  DPKG    $@"
	@rm -rf $@.root
	@dpkg -x $< $@.root
	@cp $@.root/bin/busybox $@

$(LINUX_DIR)/init: guest/linux/init.c hv/hypercall.h guest/hello.h guest/linux/linux.mk
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) -std=gnu11 -O2 -static $(WARN) -o $@ $<

$(LINUX_DIR)/initrd.cpio: $(LINUX_DIR)/init $(LINUX_DIR)/busybox guest/linux/initrd.py guest/linux/linux.mk
	@echo "  CPIO    $@"
	@$(PYTHON) guest/linux/initrd.py $@ $(LINUX_DIR)/init $(LINUX_DIR)/busybox $(LINUX_BUSYBOX_APPLETS)
