// SPDX-License-Identifier: Apache-2.0
/* Split virtqueue parsing against a fake guest, including hostile descriptor tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "ringbuf.h"

int vuv_log_level = -1;

struct fx {
	struct fake_guest fg;
	struct guest_mem gm;
	struct virtq vq;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fg_init(&f->fg);
	fg_guest_mem(&f->fg, &f->gm);
	fg_setup_vq(&f->fg, 1, &f->vq, &f->gm);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vq_reset(&f->vq);
	fg_fini(&f->fg);
	free(f);
	return 0;
}

/* Pops expecting nothing usable, and checks the guest got head back with length 0. */
static void expect_dropped(struct fx *f, uint16_t head)
{
	struct vq_chain ch;
	uint32_t id, len;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 0);
	assert_true(fg_get_used(&f->fg, 1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_false(f->vq.broken);
}

static void pop_two_descriptor_chain(void **state)
{
	struct fx *f = *state;
	uint64_t a = fg_slot(&f->fg, 1, 0), b = fg_slot(&f->fg, 1, 1);
	fg_set_desc(&f->fg, 1, 5, a, 100, VIRTQ_DESC_F_NEXT, 9);
	fg_set_desc(&f->fg, 1, 9, b, 200, VIRTQ_DESC_F_WRITE, 0);
	fg_publish(&f->fg, 1, 5);
	assert_true(vq_has_avail(&f->vq));
	struct vq_chain ch;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 1);
	assert_int_equal(ch.head, 5);
	assert_int_equal(ch.n_out, 1);
	assert_int_equal(ch.n_in, 1);
	assert_int_equal(ch.out_len, 100);
	assert_int_equal(ch.in_len, 200);
	assert_ptr_equal(ch.out[0].iov_base, fg_ptr(&f->fg, a));
	assert_ptr_equal(ch.in[0].iov_base, fg_ptr(&f->fg, b));
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 0);
	vq_push(&f->vq, ch.head, 42);
	uint32_t id, len;
	assert_true(fg_get_used(&f->fg, 1, &id, &len));
	assert_int_equal(id, 5);
	assert_int_equal(len, 42);
}

/* The batch's budget is shared by its calls and counts every entry taken, dropped ones too:
 * once spent, vq_pop takes nothing more although chains are waiting. */
static void batch_budget_spans_calls(void **state)
{
	struct fx *f = *state;
	uint64_t a = fg_slot(&f->fg, 1, 0);
	fg_set_desc(&f->fg, 1, 1, a, 16, 0, 0);
	fg_set_desc(&f->fg, 1, 2, 0xdead0000, 16, 0, 0); /* not guest memory: dropped */
	fg_publish(&f->fg, 1, 1);
	fg_publish(&f->fg, 1, 2);
	fg_publish(&f->fg, 1, 1);
	fg_publish(&f->fg, 1, 1);
	struct vq_chain ch;
	unsigned pass = 3;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &pass, &ch), 1);
	assert_int_equal(pass, 2);
	assert_int_equal(vq_pop(&f->vq, &f->gm, &pass, &ch), 1); /* after dropping head 2 */
	assert_int_equal(pass, 0);
	assert_int_equal(vq_pop(&f->vq, &f->gm, &pass, &ch), 0);
	assert_true(vq_has_avail(&f->vq)); /* the fourth waits for the next batch */
	pass = FG_QSIZE;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &pass, &ch), 1);
	assert_int_equal(pass, FG_QSIZE - 1);
}

static void buffer_spanning_two_regions_is_split(void **state)
{
	struct fx *f = *state;
	/* A second region right after the first, backed by unrelated host memory. */
	static uint8_t extra[4096];
	assert_int_equal(
	    gm_add_host_region(&f->gm, FG_GPA_BASE + FG_MEM_SIZE, sizeof(extra), 0x10000000, extra),
	    0);
	fg_set_desc(&f->fg, 1, 0, FG_GPA_BASE + FG_MEM_SIZE - 10, 30, 0, 0);
	fg_publish(&f->fg, 1, 0);
	struct vq_chain ch;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 1);
	assert_int_equal(ch.n_out, 2);
	assert_int_equal(ch.out[0].iov_len, 10);
	assert_int_equal(ch.out[1].iov_len, 20);
	assert_ptr_equal(ch.out[1].iov_base, extra);
	assert_int_equal(ch.out_len, 30);
}

static void address_outside_memory_is_dropped(void **state)
{
	struct fx *f = *state;
	fg_set_desc(&f->fg, 1, 3, 0x1000, 16, 0, 0); /* below the only region */
	fg_publish(&f->fg, 1, 3);
	expect_dropped(f, 3);
	fg_set_desc(&f->fg, 1, 4, 0xfffffffffffff000ull, 0x2000, 0, 0); /* wraps */
	fg_publish(&f->fg, 1, 4);
	expect_dropped(f, 4);
}

static void length_beyond_region_is_dropped(void **state)
{
	struct fx *f = *state;
	fg_set_desc(&f->fg, 1, 1, FG_GPA_BASE + FG_MEM_SIZE - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	fg_publish(&f->fg, 1, 1);
	expect_dropped(f, 1);
}

static void descriptor_loop_is_dropped(void **state)
{
	struct fx *f = *state;
	uint64_t a = fg_slot(&f->fg, 1, 0);
	fg_set_desc(&f->fg, 1, 1, a, 4, VIRTQ_DESC_F_NEXT, 2);
	fg_set_desc(&f->fg, 1, 2, a, 4, VIRTQ_DESC_F_NEXT, 1);
	fg_publish(&f->fg, 1, 1);
	expect_dropped(f, 1);
}

static void next_out_of_range_is_dropped(void **state)
{
	struct fx *f = *state;
	fg_set_desc(&f->fg, 1, 7, fg_slot(&f->fg, 1, 0), 4, VIRTQ_DESC_F_NEXT, FG_QSIZE);
	fg_publish(&f->fg, 1, 7);
	expect_dropped(f, 7);
}

static void readable_after_writable_is_dropped(void **state)
{
	struct fx *f = *state;
	uint64_t a = fg_slot(&f->fg, 1, 0);
	fg_set_desc(&f->fg, 1, 1, a, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	fg_set_desc(&f->fg, 1, 2, a, 4, 0, 0);
	fg_publish(&f->fg, 1, 1);
	expect_dropped(f, 1);
}

static void indirect_is_dropped(void **state)
{
	struct fx *f = *state;
	fg_set_desc(&f->fg, 1, 0, fg_slot(&f->fg, 1, 0), 16, VIRTQ_DESC_F_INDIRECT, 0);
	fg_publish(&f->fg, 1, 0);
	expect_dropped(f, 0);
}

static void too_many_segments_is_dropped(void **state)
{
	struct fx *f = *state;
	for (uint16_t i = 0; i < VQ_MAX_IOV + 1; i++)
		fg_set_desc(&f->fg, 1, i, fg_slot(&f->fg, 1, 0), 1,
		            i < VQ_MAX_IOV ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	fg_publish(&f->fg, 1, 0);
	expect_dropped(f, 0);
}

static void avail_index_runaway_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = fg_ptr(&f->fg, f->fg.ring[1].avail_gpa);
	avail[1] = htole16(FG_QSIZE + 1);
	struct vq_chain ch;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), -EIO);
	assert_true(f->vq.broken);
	assert_false(vq_has_avail(&f->vq));
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 0);
}

static void head_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	fg_publish(&f->fg, 1, 0xffff);
	struct vq_chain ch;
	assert_int_equal(vq_pop(&f->vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), -EIO);
	assert_true(f->vq.broken);
}

static void ring_outside_memory_does_not_translate(void **state)
{
	struct fx *f = *state;
	struct virtq vq;
	vq_init(&vq);
	assert_int_equal(vq_set_num(&vq, 100), -EINVAL); /* not a power of two */
	assert_int_equal(vq_set_num(&vq, 65536), -EINVAL);
	/* Above the back-end's bound (virtq.h: a looping guest's cost per kick grows as num^2). */
	assert_int_equal(vq_set_num(&vq, 2048), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 1024), 0);
	assert_int_equal(vq_set_num(&vq, 256), 0);
	vq.addr_set = true;
	vq.desc_uva = FG_UVA_BASE + FG_MEM_SIZE - 16; /* table runs off the end */
	vq.avail_uva = FG_UVA_BASE + 0x1000;
	vq.used_uva = FG_UVA_BASE + 0x2000;
	assert_int_equal(vq_translate(&vq, &f->gm), -EFAULT);
	vq.desc_uva = FG_UVA_BASE + 8; /* misaligned */
	assert_int_equal(vq_translate(&vq, &f->gm), -EINVAL);
	vq.started = vq.enabled = true;
	assert_false(vq_ready(&vq));
	struct vq_chain ch;
	assert_int_equal(vq_pop(&vq, &f->gm, &(unsigned){FG_QSIZE}, &ch), 0);
}

static void notify_signals_call_fd_unless_suppressed(void **state)
{
	struct fx *f = *state;
	f->vq.call_fd = eventfd(0, EFD_NONBLOCK);
	uint64_t v;
	vq_notify(&f->vq); /* nothing used yet */
	assert_int_equal(read(f->vq.call_fd, &v, sizeof(v)), -1);
	vq_push(&f->vq, 0, 0);
	vq_notify(&f->vq);
	assert_int_equal(read(f->vq.call_fd, &v, sizeof(v)), sizeof(v));
	uint16_t *avail = fg_ptr(&f->fg, f->fg.ring[1].avail_gpa);
	avail[0] = htole16(VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq_push(&f->vq, 1, 0);
	vq_notify(&f->vq);
	assert_int_equal(read(f->vq.call_fd, &v, sizeof(v)), -1);
}

static void iov_copies_honour_offsets(void **state)
{
	uint8_t a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7}, out[8] = {0};
	struct iovec iov[2] = {{a, 3}, {b, 4}};
	assert_int_equal(iov_to_buf(iov, 2, 2, out, 8), 5);
	assert_memory_equal(out, ((uint8_t[]){3, 4, 5, 6, 7}), 5);
	uint8_t in[3] = {9, 9, 9};
	assert_int_equal(buf_to_iov(iov, 2, 1, in, 3), 3);
	assert_memory_equal(a, ((uint8_t[]){1, 9, 9}), 3);
	assert_int_equal(b[0], 9);
	assert_int_equal(iov_to_buf(iov, 2, 10, out, 8), 0);
}

static void ringbuf_wraps(void **state)
{
	struct ringbuf rb;
	assert_int_equal(rb_init(&rb, 8), 0);
	uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8}, dst[8];
	struct iovec iov = {src, 8};
	assert_int_equal(rb_put_iov(&rb, &iov, 1, 0, 6), 6);
	rb_consumed(&rb, 4);
	assert_int_equal(rb_put_iov(&rb, &iov, 1, 0, 8), 6); /* only 6 free */
	struct iovec d[2];
	assert_int_equal(rb_data_iov(&rb, d), 2);
	assert_int_equal(rb_peek(&rb, dst, 8), 8);
	assert_memory_equal(dst, ((uint8_t[]){5, 6, 1, 2, 3, 4, 5, 6}), 8);
	assert_int_equal(rb_space(&rb), 0);
	rb_free(&rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(pop_two_descriptor_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(batch_budget_spans_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(buffer_spanning_two_regions_is_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(address_outside_memory_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(length_beyond_region_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(descriptor_loop_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(next_out_of_range_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(readable_after_writable_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(indirect_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(too_many_segments_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(avail_index_runaway_breaks_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(head_out_of_range_breaks_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(ring_outside_memory_does_not_translate, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(notify_signals_call_fd_unless_suppressed, setup,
	                                    teardown),
	    cmocka_unit_test(iov_copies_honour_offsets),
	    cmocka_unit_test(ringbuf_wraps),
	};
	return cmocka_run_group_tests_name("vhost-user-vsock virtq", tests, NULL, NULL);
}
