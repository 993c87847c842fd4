package io.github.idlereaper.bench;

import io.netty.channel.local.LocalAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Unique local addresses for the client ends of LocalChannel pairs. Left to itself, a LocalChannel takes an
 * ephemeral address from 32 random bits of its id, and among 100,000 live channels two of those collide more often
 * than not ("address already in use").
 */
final class Locals {

    private static final AtomicLong NEXT = new AtomicLong();

    private Locals() {
    }

    static LocalAddress next() {
        return new LocalAddress("client-" + NEXT.incrementAndGet());
    }
}
