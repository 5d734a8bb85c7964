package org.sockmap4j.netty.example;

import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

import org.sockmap4j.SplicedPair;
import org.sockmap4j.netty.NettySplicer;

/**
 * The example proxy's work on one accepted client: read a fixed-length header (exactly: the child
 * channel reads with a buffer of the header's size, and only when asked), connect to the upstream
 * on the client's own event loop, then splice, forwarding the header (and anything read beyond it)
 * as pending bytes. A real proxy would choose the upstream from the header; this one only
 * forwards it.
 */
final class HeaderThenSplice extends ChannelInboundHandlerAdapter {
    private final NettySplicer splicer;
    private final SocketAddress upstream;
    private final int headerLength;
    private final SpliceProxyExample.Listener listener;
    private ByteBuf read; // the header, and whatever came with it; handed to the splice
    private boolean connecting;
    private EpollSocketChannel upstreamChannel;

    HeaderThenSplice(NettySplicer splicer, SocketAddress upstream, int headerLength,
            SpliceProxyExample.Listener listener) {
        this.splicer = splicer;
        this.upstream = upstream;
        this.headerLength = headerLength;
        this.listener = listener;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        read = ctx.alloc().buffer(Math.max(headerLength, 1));
        if (headerLength == 0) {
            connect(ctx);
        } else {
            ctx.read();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        try {
            if (read != null) {
                read.writeBytes(in);
            }
        } finally {
            in.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (connecting || read == null) {
            return;
        }
        if (read.readableBytes() >= headerLength) {
            connect(ctx);
        } else {
            ctx.read();
        }
    }

    private void connect(ChannelHandlerContext ctx) {
        connecting = true;
        Bootstrap b = new Bootstrap()
                .group(ctx.channel().eventLoop()) // same loop: no locking between the two channels
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false) // nothing is read from the upstream before the splice
                .handler(new ChannelInboundHandlerAdapter());
        b.connect(upstream).addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                listener.failed(f.cause());
                ctx.close();
                return;
            }
            upstreamChannel = (EpollSocketChannel) f.channel();
            if (!ctx.channel().isActive()) { // the client left while we connected
                upstreamChannel.close();
                return;
            }
            ByteBuf pending = read;
            read = null;
            Future<SplicedPair> spliced = splicer.splice((EpollSocketChannel) ctx.channel(), pending, upstreamChannel,
                    null);
            spliced.addListener((Future<SplicedPair> s) -> { // runs in the client's loop
                if (s.isSuccess()) {
                    listener.spliced(s.getNow());
                } else {
                    listener.failed(s.cause()); // both connections were closed
                }
            });
        });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // before the splice only (the adapter keeps it from the pipeline after): the client closed,
        // or half-closed (Netty closes the channel on end of input unless ALLOW_HALF_CLOSURE)
        if (upstreamChannel != null) {
            upstreamChannel.close();
        }
        listener.failed(new ClosedChannelException());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        listener.failed(cause);
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        ReferenceCountUtil.safeRelease(read);
        read = null;
    }
}
