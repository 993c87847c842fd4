package io.github.idlereaper.protocol;

/** Checks that one of Netty's optional codec modules, which a built-in protocol speaks through, is present. */
final class Codecs {

    private Codecs() {
    }

    /**
     * @throws IllegalStateException naming the protocol, the missing Maven artifact and the class looked for
     */
    static void require(Object protocol, String artifact, String className) {
        try {
            Class.forName(className, false, Codecs.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalStateException(protocol + " needs " + artifact + " on the class path (" + className
                    + " not found)");
        }
    }
}
