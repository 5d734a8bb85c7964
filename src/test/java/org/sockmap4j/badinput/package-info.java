/**
 * The bad-input catalogue (docs/bad-input.md): one test per bad input, each proving that the call
 * throws a typed exception naming the operation and the object, with a hint a user can act on,
 * and that nothing bad reached the kernel or native code. Small classes by theme; the pure-Java
 * checks run without privileges, the rest are {@code @Privileged}.
 */
package org.sockmap4j.badinput;
