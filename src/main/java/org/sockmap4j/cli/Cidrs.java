package org.sockmap4j.cli;

import org.sockmap4j.Cidr;

/** Validates CIDR arguments up front, with the message the user needs. */
final class Cidrs {
    private Cidrs() {}

    static Cidr check(String cidr) {
        try {
            return Cidr.parse(cidr);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError(e.getMessage());
        }
    }
}
