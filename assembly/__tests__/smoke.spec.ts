import { init, spAlloc, spFree, slabPoolCreate } from "../index";
describe("smoke", () => {
  it("allocates and frees", () => {
    expect(init(2048)).toBeGreaterThan(0);
    let p = slabPoolCreate(64, 0, 0xFFFFFFFF);
    let a = spAlloc(p);
    expect(a).toBeGreaterThan(65535);
    expect(spFree(p, a)).toBe(0);
    expect(spFree(p, a)).toBe(4);
  });
});
