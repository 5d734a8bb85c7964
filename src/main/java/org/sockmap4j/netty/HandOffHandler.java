package org.sockmap4j.netty;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;

/**
 * The handler a hand-off puts first in a channel's pipeline (next to the socket). Inbound, it
 * holds every byte read from then on (a read already under way, or one Netty makes on its own
 * when the peer half-closes) and stops every other inbound event, so the pipeline's own handlers
 * see nothing more: no reads, no {@code channelInactive} that would make a relay handler close
 * the other channel. Outbound, it lets writes through and remembers if one fails, since those
 * bytes would then be missing from the spliced stream.
 *
 * <p>Used in the channel's event loop only; what it holds is read once the channel is closed.
 */
final class HandOffHandler extends ChannelDuplexHandler {
    static final String NAME = "sockmap4j-hand-off";

    private final List<ByteBuf> held = new ArrayList<>();
    private ChannelHandlerContext ctx;
    private volatile Throwable writeFailure;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            held.add(b);
        } else { // the socket yields ByteBufs only; anything else did not come from the peer
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // held
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // the socket lives on in the Splicer: the pipeline must not react as if the connection ended
    }

    @Override
    public void channelUnregistered(ChannelHandlerContext ctx) {
        // as channelInactive
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // nothing more is relayed through the pipeline
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a read error (a reset) leaves the socket unspliceable: the Splicer refuses it
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ChannelPromise p = promise.unvoid();
        p.addListener(f -> {
            if (!f.isSuccess() && writeFailure == null) {
                writeFailure = f.cause();
            }
        });
        ctx.write(msg, p);
    }

    /**
     * Completes when everything written to the channel before now has been handed to the socket,
     * or fails if any of it could not be (the marker is written straight to the socket's end of the
     * pipeline, after whatever is queued there).
     */
    ChannelFuture written() {
        return ctx.writeAndFlush(Unpooled.EMPTY_BUFFER);
    }

    /** The first write that failed since the handler was added, or null. */
    Throwable writeFailure() {
        return writeFailure;
    }

    /** Bytes held. */
    int heldBytes() {
        int n = 0;
        for (ByteBuf b : held) {
            n += b.readableBytes();
        }
        return n;
    }

    /** Copies the held bytes into {@code into} and releases them. */
    void drainTo(ByteBuffer into) {
        for (ByteBuf b : held) {
            int n = b.readableBytes();
            b.getBytes(b.readerIndex(), into.slice(into.position(), n));
            into.position(into.position() + n);
        }
        release();
    }

    /** Releases the held bytes. */
    void release() {
        for (ByteBuf b : held) {
            ReferenceCountUtil.safeRelease(b);
        }
        held.clear();
    }
}
