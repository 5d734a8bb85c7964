package org.sockmap4j;

/**
 * E2BIG: the map has no free entry (max_entries reached) or the index is out of range.
 */
public final class MapFullException extends BpfException {
    private static final long serialVersionUID = 1L;

    MapFullException(String operation, String object, int errnoCode, String hint) {
        super(operation, object, errnoCode, hint);
    }
}
