/**
 * Keeps a few idle instances of sluice's classes alive for the life of the
 * program, so that V8 keeps their hidden classes.
 *
 * V8 builds an object's hidden class (its "map") field by field as a
 * constructor runs, and keeps a map only while some object or optimised code
 * still uses it. When every instance of a class has died, a full GC drops
 * its maps; the next instance builds new ones, and the optimised code and
 * inline caches that knew the old ones are thrown away. After a few rounds
 * of that (a queue or a pipeline per request, with collections in between),
 * property access in the hot loops turns megamorphic and runs several times
 * slower (measured in bench/results.md, "Hidden classes across collections").
 * One idle instance of each class, made when the first real one is, keeps
 * the maps alive.
 */
const held = new Map<object, readonly object[]>();

/**
 * Keeps the idle instances `make()` returns alive for good, once per `owner`
 * (a class): call it from the owner's constructor. `make` may construct the
 * owner; the nested call sees the owner as held already.
 */
export function holdShapes(owner: object, make: () => readonly object[]): void {
  if (held.has(owner)) return;
  held.set(owner, []);
  held.set(owner, make());
}
